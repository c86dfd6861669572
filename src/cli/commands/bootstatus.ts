import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

/**
 * `apt-ostree bootstatus` (hidden): what apt-ostree-bootstatus.service runs
 * once per boot. Logs the booted deployment to stderr, with `<N>` priority
 * prefixes under systemd (JOURNAL_STREAM set) so journald files each line at
 * its level. Quiet, exit 0, on a system not booted with OSTree.
 */
export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('bootstatus', { hidden: true })
    .description('Log which deployment booted, and whether it is the default or a rollback')
    .option('--json', 'print the report as JSON on stdout instead')
    .action(async (opts) => {
      const { bootStatus, formatForJournal } = await import('../../engine/bootstatus');
      const report = await bootStatus({ sysroot: globals().sysroot });
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      process.stderr.write(formatForJournal(report.lines, process.env.JOURNAL_STREAM !== undefined));
    });
}
