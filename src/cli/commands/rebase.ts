import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('rebase')
    .argument('<refspec>', '[REMOTE:]REF (REF alone keeps the current remote; REMOTE: alone keeps the ref)')
    .description('Switch the deployment to another ref (or remote); layered packages are kept')
    .option('-C, --cache-only', 'use only what is already downloaded')
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .action(async (refspec, o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), {
        kind: 'rebase',
        refspec,
        options: { cacheOnly: o.cacheOnly === true, reboot: o.reboot === true },
      });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
