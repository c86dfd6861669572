import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('uninstall')
    .description('Remove layered packages in a new deployment')
    .argument('[packages...]', 'layered package names')
    .option('--all', 'remove every layered package')
    .option('--idempotent', 'do nothing for a package that is not layered')
    .option('-n, --dry-run', 'show what would change; deploy nothing')
    .option('-C, --cache-only', 'use only cached APT metadata and packages (no network)')
    .option('-y, --assumeyes', 'accepted for compatibility (never asks)')
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .action(async (packages, o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), {
        kind: 'uninstall',
        packages,
        all: o.all === true,
        options: {
          dryRun: o.dryRun === true,
          cacheOnly: o.cacheOnly === true,
          reboot: o.reboot === true,
          idempotent: o.idempotent === true,
        },
      });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
