import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('initramfs')
    .description("Regenerate the initramfs on this machine with dracut (--enable) or go back to the base's (--disable)")
    .option('--enable', 'regenerate the initramfs in every new deployment')
    .option('--disable', "use the base's initramfs again")
    .option('--arg <ARG>', 'an argument for dracut (repeatable; with --enable)', collect, [] as string[])
    .option('-r, --reboot', 'reboot after deploying')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .action(async (o) => {
      const { usageError } = await import('../../engine/errors');
      if (o.enable === true && o.disable === true) throw usageError('--enable and --disable exclude each other');
      if (o.enable !== true && o.disable !== true) {
        throw usageError('initramfs needs --enable or --disable', '"apt-ostree status" shows whether regeneration is enabled');
      }
      if (o.disable === true && o.arg.length > 0) throw usageError('--arg only goes with --enable');
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), {
        kind: 'initramfs',
        enable: o.enable === true,
        args: o.arg,
        options: { reboot: o.reboot === true },
      });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
