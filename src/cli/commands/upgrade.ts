import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('upgrade')
    .alias('update')
    .description("Pull the newest base of the deployment's refspec, apply the layered packages again on it, and deploy it")
    .option('--check', 'only say whether an update is available (version, commit, date); downloads no content')
    .option('--preview', 'like --check, with the package changes (added, removed, upgraded, downgraded)')
    .option('--download-only', 'download the update without deploying it')
    .option('-C, --cache-only', 'use only what is already downloaded')
    .option('--allow-downgrade', 'accept a base older than the current one')
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when there is no update')
    .action(async (o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), {
        kind: 'upgrade',
        options: {
          check: o.check === true,
          preview: o.preview === true,
          downloadOnly: o.downloadOnly === true,
          cacheOnly: o.cacheOnly === true,
          allowDowngrade: o.allowDowngrade === true,
          reboot: o.reboot === true,
        },
      });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
