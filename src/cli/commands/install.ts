import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('install')
    .description('Layer packages (names in the APT sources, or local .deb files) on the base in a new deployment')
    .argument('<packages...>', 'package names or paths of .deb files')
    .option('-n, --dry-run', 'show what would be installed; deploy nothing')
    .option('-C, --cache-only', 'use only cached APT metadata and packages (no network)')
    .option('--idempotent', 'do nothing when a package is already requested')
    .option('--allow-inactive', 'record a request for a package the base already provides')
    .option('-y, --assumeyes', 'accepted for compatibility (never asks)')
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .action(async (packages, o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), {
        kind: 'install',
        packages,
        options: {
          dryRun: o.dryRun === true,
          cacheOnly: o.cacheOnly === true,
          idempotent: o.idempotent === true,
          allowInactive: o.allowInactive === true,
          reboot: o.reboot === true,
        },
      });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
