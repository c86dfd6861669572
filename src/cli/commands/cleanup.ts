import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';
import type { CleanupTarget } from '../../engine/operations/types';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('cleanup')
    .description('Remove old deployments and cached data, and prune unreferenced objects')
    .option('-p, --pending', 'remove the pending (staged) deployment')
    .option('-r, --rollback', 'remove the rollback deployment')
    .option('-b, --base', 'remove temporary data of interrupted operations')
    .option('-m, --repomd', 'remove the cached package metadata')
    .action(async (o) => {
      const what: CleanupTarget[] = [];
      if (o.pending) what.push('pending');
      if (o.rollback) what.push('rollback');
      if (o.base) what.push('base');
      if (o.repomd) what.push('repomd');
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      reportResult(globals(), await executeOperation(globals(), { kind: 'cleanup', what, options: {} }));
    });
}
