import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('Show the deployments of the system')
    .option('--json', 'print JSON shaped like rpm-ostree status --json')
    .option('-b, --booted', 'only the booted deployment')
    .option('-v, --verbose', 'full checksums and more detail')
    .action(async (o) => {
      // A running daemon that serves this sysroot answers (GetStatus: its policy in force, its
      // transaction); it is not started for this. Otherwise (or APT_OSTREE_DIRECT=1) read the sysroot.
      const fromDaemon = await (await import('../backend')).daemonStatus(globals().sysroot);
      const { renderStatus } = await import('../../engine/status');
      let st: import('../../engine/status').StatusJson;
      if (fromDaemon) {
        st = fromDaemon;
      } else {
        const { loadSysroot } = await import('../../engine/sysroot');
        const { statusOfSysroot } = await import('../../engine/status');
        st = statusOfSysroot(await loadSysroot(globals().sysroot));
      }
      if (o.json) {
        const out = o.booted ? { ...st, deployments: st.deployments.filter((d) => d.booted) } : st;
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(renderStatus(st, { verbose: o.verbose, booted: o.booted }));
    });
}
