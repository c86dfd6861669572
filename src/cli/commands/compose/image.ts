import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../../globals';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(compose: Command, globals: () => GlobalOptions): void {
  compose
    .command('image')
    .argument('<out>', 'raw disk image file to write (OUT.img)')
    .requiredOption('--repo <repo>', 'OSTree repository holding REF')
    .requiredOption('--ref <ref>', 'ref to deploy (its tree must have a real kernel)')
    .option('--size <size>', 'image size, e.g. 4G (default: room for the tree twice over plus 1 GiB)')
    .option(
      '--karg <K=V>',
      'kernel argument, after the defaults root=UUID=… rw console=ttyS0 (repeatable; root= or console= replaces the default)',
      collect,
      [] as string[],
    )
    .option('--stateroot <name>', 'stateroot (OS name)', 'debian')
    .option('--remote <NAME=URL>', 'configure a remote to follow in the image; the origin becomes NAME:REF')
    .option('--force', 'replace OUT if it exists', false)
    .description('Write a raw disk image (one ext4 filesystem) holding REF deployed in an OSTree sysroot')
    .action(async (out, o) => {
      void globals;
      const { composeImage, parseSize } = await import('../../../engine/compose/image');
      const { parseRemoteArg } = await import('../../../engine/compose/sysroot');
      const { TerminalProgress } = await import('../../progress');
      const sizeBytes = o.size === undefined ? undefined : parseSize(o.size);
      const remote = o.remote ? { ...parseRemoteArg(o.remote), signVerify: [] as string[] } : undefined;
      const progress = new TerminalProgress();
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await composeImage(
          { repo: o.repo, ref: o.ref, out, sizeBytes, kargs: o.karg, force: o.force, stateroot: o.stateroot, remote },
          progress,
          ac.signal,
        );
        progress.finish();
        const e = r.entry;
        process.stdout.write(
          `Wrote ${r.image} (${Math.round(r.sizeBytes / (1024 * 1024))} MiB, ext4 UUID ${r.uuid}) holding ${r.refspec} (${r.checksum})\n` +
            `Default boot entry (paths inside the image's /boot):\n` +
            `  linux   ${e.linux}\n` +
            (e.initrd ? `  initrd  ${e.initrd}\n` : '') +
            `  options ${e.options}\n`,
        );
      } finally {
        process.removeListener('SIGINT', onSigint);
        progress.finish();
      }
    });
}
