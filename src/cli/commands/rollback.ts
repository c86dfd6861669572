import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('rollback')
    .description('Make the rollback deployment the default (and the default the rollback); no new deployment is made')
    .option('-r, --reboot', 'reboot afterwards')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .action(async (o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), { kind: 'rollback', options: { reboot: o.reboot === true } });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
