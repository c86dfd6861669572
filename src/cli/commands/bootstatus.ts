/**
 * `apt-ostree bootstatus` (hidden): what apt-ostree-bootstatus.service runs
 * once per boot. Logs the booted deployment to stderr, with `<N>` priority
 * prefixes under systemd (JOURNAL_STREAM set) so journald files each line at
 * its level. Quiet, exit 0, on a system not booted with OSTree.
 */
import type { Command } from '@commander-js/extra-typings';
import { bootStatus, formatForJournal } from '../../engine/bootstatus';
import { entryOf } from '../../engine/operations/registry';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import { output, type VerbOutput } from '../output';

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  defineCommand(program, entryOf(['bootstatus'])!).action(async (opts) => {
    const report = await bootStatus({ sysroot: globals().sysroot });
    if ((opts as { json?: boolean }).json) done(output(JSON.stringify(report, null, 2) + '\n'));
    else done(output('', { stderr: formatForJournal(report.lines, process.env.JOURNAL_STREAM !== undefined) }));
  });
}
