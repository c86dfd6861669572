import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../../globals';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(compose: Command, globals: () => GlobalOptions): void {
  compose
    .command('image')
    .argument('<out>', 'disk image file to write (OUT.img, or OUT.qcow2 with --format qcow2)')
    .requiredOption('--repo <repo>', 'OSTree repository holding REF')
    .requiredOption('--ref <ref>', 'ref to deploy (its tree must have a real kernel)')
    .option('--size <size>', 'disk size, e.g. 8G (default: the ESP, /boot, and room for the tree twice over plus 1 GiB)')
    .option('--format <format>', 'raw or qcow2', 'raw')
    .option(
      '--karg <K=V>',
      'kernel argument, after the defaults root=UUID=… rw console=ttyS0 (repeatable; root= or console= replaces the default)',
      collect,
      [] as string[],
    )
    .option('--stateroot <name>', 'stateroot (OS name)', 'debian')
    .option('--remote <NAME=URL>', 'configure a remote to follow in the image; the origin becomes NAME:REF')
    .option('--force', 'replace OUT if it exists', false)
    .description(
      'Write a UEFI-bootable disk image (GPT: EFI system partition with GRUB, /boot, root) holding REF deployed in an OSTree sysroot',
    )
    .action(async (out, o) => {
      void globals;
      const { composeImage, formatSize, parseFormat, parseSize } = await import('../../../engine/compose/image');
      const { parseRemoteArg } = await import('../../../engine/compose/sysroot');
      const { TerminalProgress } = await import('../../progress');
      const sizeBytes = o.size === undefined ? undefined : parseSize(o.size);
      const format = parseFormat(o.format);
      const remote = o.remote ? { ...parseRemoteArg(o.remote), signVerify: [] as string[] } : undefined;
      const progress = new TerminalProgress();
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await composeImage(
          { repo: o.repo, ref: o.ref, out, format, sizeBytes, kargs: o.karg, force: o.force, stateroot: o.stateroot, remote },
          progress,
          ac.signal,
        );
        progress.finish();
        const e = r.entry;
        process.stdout.write(
          `Wrote ${r.image} (${r.format}, ${formatSize(r.sizeBytes)}, GPT) holding ${r.refspec} (${r.checksum})\n` +
            r.partitions
              .map(
                (p) =>
                  `  ${p.number} ${{ esp: 'EFI system', boot: '/boot', root: 'root' }[p.role].padEnd(10)} ${formatSize(p.size).padStart(9)}  ${p.role === 'esp' ? 'FAT32' : 'ext4'} ${p.fsUuid}\n`,
              )
              .join('') +
            `Boot loader: ${r.signed ? "shim and Debian's signed GRUB (Secure Boot)" : 'GRUB (unsigned: Secure Boot off)'} at ${r.loader} on the EFI system partition; OSTree keeps its menu in /boot/grub/grub.cfg\n` +
            `Default boot entry (paths inside /boot):\n` +
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
