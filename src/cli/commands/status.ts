import type { Command } from '@commander-js/extra-typings';
import { renderStatus, statusOfSysroot, type StatusJson } from '../../engine/status';
import { loadSysroot } from '../../engine/sysroot';
import { daemonStatus } from '../daemon-query';
import type { GlobalOptions } from '../globals';

export interface StatusFlags {
  json?: boolean;
  booted?: boolean;
  verbose?: boolean;
}

/**
 * Print the status of `sysroot`. A running daemon that serves this sysroot
 * answers (GetStatus: its policy in force, its transaction); it is not
 * started for this. Otherwise (or APT_OSTREE_DIRECT=1) read the sysroot.
 * Shared by the verb below and the CLI's fast entry (src/cli/entry.ts).
 */
export async function runStatus(sysroot: string, o: StatusFlags): Promise<void> {
  const st: StatusJson = (await daemonStatus(sysroot)) ?? statusOfSysroot(await loadSysroot(sysroot));
  if (o.json) {
    const out = o.booted ? { ...st, deployments: st.deployments.filter((d) => d.booted) } : st;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(renderStatus(st, { verbose: o.verbose, booted: o.booted }));
}

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('Show the deployments of the system')
    .option('--json', 'print JSON shaped like rpm-ostree status --json')
    .option('-b, --booted', 'only the booted deployment')
    .option('-v, --verbose', 'full checksums and more detail')
    .action((o) => runStatus(globals().sysroot, o));
}
