import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('reset')
    .description('Drop all layered packages, overrides and initramfs regeneration in a new deployment of the plain base')
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .action(async (o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), { kind: 'reset', options: { reboot: o.reboot === true } });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
