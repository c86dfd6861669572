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
      const { loadSysroot } = await import('../../engine/sysroot');
      const { renderStatus, statusOfSysroot } = await import('../../engine/status');
      const sysroot = await loadSysroot(globals().sysroot);
      // The automatic-update policy in force is the running daemon's (it may differ from the file after a bad reload).
      const automatic = await (await import('../backend')).daemonAutomaticSettings(sysroot.path);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(statusOfSysroot(sysroot, { booted: o.booted, automatic }), null, 2)}\n`);
        return;
      }
      process.stdout.write(renderStatus(sysroot, { verbose: o.verbose, booted: o.booted, automatic }));
    });
}
