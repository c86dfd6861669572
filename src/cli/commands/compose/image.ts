import { composeImage, formatSize, parseFormat, parseSize } from '../../../engine/compose/image';
import { parseRemoteArg } from '../../../engine/compose/sysroot';
import { entryOf } from '../../../engine/operations/registry';
import { defineCommand, type RegistryCommand } from '../../define';
import type { GlobalOptions } from '../../globals';
import { output, type VerbOutput } from '../../output';
import { TerminalProgress } from '../../progress';

interface ImageOptions {
  repo: string;
  ref: string;
  size?: string;
  format: string;
  karg: string[];
  stateroot: string;
  remote?: string;
  force: boolean;
}

export async function composeImageVerb(out: string, o: ImageOptions): Promise<VerbOutput> {
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
    return output(
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
}

export function register(compose: RegistryCommand, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  void globals;
  defineCommand(compose, entryOf(['compose', 'image'])!).action(async (out, opts) =>
    done(await composeImageVerb(out as string, opts as unknown as ImageOptions)),
  );
}
