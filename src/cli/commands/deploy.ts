import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('deploy')
    .argument('<revision>', 'a commit checksum, or version=VERSION')
    .description(
      "Deploy a given revision of the deployment's refspec (pinned in the origin until the next upgrade); layered packages are kept",
    )
    .option('-C, --cache-only', 'use only what is already downloaded')
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .option('--skip-branch-check', "deploy a commit that is not in the history of the origin's ref")
    .action(async (revision, o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), {
        kind: 'deploy',
        revision,
        options: { cacheOnly: o.cacheOnly === true, reboot: o.reboot === true, skipBranchCheck: o.skipBranchCheck === true },
      });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
