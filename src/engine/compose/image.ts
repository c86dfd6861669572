/**
 * `compose image`: a raw disk image holding a deployed sysroot. REF is
 * deployed into a scratch sysroot (the same way as `compose sysroot`), and
 * `mkfs.ext4 -d` turns that directory into an ext4 filesystem image: no loop
 * device, no mount. The image is one filesystem with no partition table; its
 * /boot holds OSTree's boot loader entries (BLS, /boot/loader/entries), the
 * kernel and the initramfs, ready for a direct kernel boot (QEMU -kernel,
 * -initrd, -append from the default entry).
 *
 * Nothing half-written stays behind: the filesystem is made in OUT.tmp and
 * renamed to OUT, and the scratch sysroot is removed whatever happens.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AptOstreeError, usageError } from '../errors';
import { run } from '../exec';
import { revParse } from '../ostree/repo';
import { task, type Progress } from '../progress';
import { PLACEHOLDER_KVER } from './layout';
import { clearImmutableDeployments, composeSysroot, type RemoteSpec } from './sysroot';

export interface ComposeImageOptions {
  repo: string;
  ref: string;
  /** The image file to write. */
  out: string;
  /** Bytes; undefined = large enough for the tree and one more deployment. */
  sizeBytes?: number;
  /** Appended to the defaults (root=UUID=… rw console=ttyS0); a root= or console= of these replaces the default one. */
  kargs: string[];
  force: boolean;
  stateroot?: string;
  remote?: RemoteSpec;
}

export interface BootEntry {
  title?: string;
  version?: string;
  /** Paths as written in the entry: relative to the image's /boot. */
  linux: string;
  initrd?: string;
  options: string;
}

export interface ComposeImageResult {
  image: string;
  sizeBytes: number;
  checksum: string;
  refspec: string;
  /** Filesystem UUID of the image (root=UUID=… in the default kernel arguments). */
  uuid: string;
  /** The default boot entry of the image. */
  entry: BootEntry;
}

const MiB = 1024 * 1024;
/** ext4's own overhead (journal, inode tables, reserved blocks) on top of the files. */
const FS_OVERHEAD_FIXED = 160 * MiB;
const FS_OVERHEAD_RATIO = 1.12;
const SIZE_ALIGN = 64 * MiB;

/** Parse `--size`: bytes, or a number with K, M, G or T (powers of 1024, optional "iB"/"B"). */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(s);
  if (!m) throw usageError(`--size "${s}" is not a size`, 'give bytes or a number with K, M, G or T, e.g. --size 4G');
  const mult = { '': 1, K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const bytes = Math.floor(Number(m[1]) * mult);
  if (bytes < 16 * MiB)
    throw usageError(`--size ${s} is too small for a disk image`, 'an image needs at least its tree; try e.g. --size 4G');
  return bytes;
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${(bytes / (1024 * MiB)).toFixed(1)} GiB`;
  return `${Math.ceil(bytes / MiB)} MiB`;
}

/**
 * The kernel arguments of the image's first deployment: the defaults, then
 * the user's; a user root= or console= replaces the default one.
 */
export function imageKargs(uuid: string, user: readonly string[]): string[] {
  const has = (key: string): boolean => user.some((k) => k === key || k.startsWith(`${key}=`));
  const out: string[] = [];
  if (!has('root')) out.push(`root=UUID=${uuid}`);
  if (!has('rw') && !has('ro')) out.push('rw');
  if (!has('console')) out.push('console=ttyS0');
  return [...out, ...user];
}

/** The kernel versions of REF that have a real kernel (/usr/lib/modules/KVER/vmlinuz, not the placeholder). */
async function kernelsOfRef(repo: string, ref: string, signal: AbortSignal): Promise<string[]> {
  const ls = await run('ostree', ['ls', `--repo=${repo}`, '--nul-filenames-only', ref, '/usr/lib/modules'], {
    okCodes: [1],
    signal,
    errorCode: 'ostree',
  });
  if (ls.code !== 0) return [];
  const kvers = ls.stdout
    .split('\0')
    .filter((p) => p !== '' && p !== '/usr/lib/modules')
    .map((p) => basename(p))
    .filter((k) => k !== PLACEHOLDER_KVER);
  const real: string[] = [];
  for (const k of kvers) {
    const v = await run('ostree', ['ls', `--repo=${repo}`, ref, `/usr/lib/modules/${k}/vmlinuz`], {
      okCodes: [1],
      signal,
      errorCode: 'ostree',
    });
    if (v.code === 0) real.push(k);
  }
  return real;
}

/** A program on PATH or in the sbin directories (not on a user's PATH everywhere). */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'];
  return dirs
    .filter((d) => d !== '')
    .map((d) => join(d, name))
    .find((p) => existsSync(p));
}

/** Disk usage of a directory tree in bytes (allocated blocks; hardlinked files once). */
export function diskUsage(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p, { bigint: false });
      if (st.nlink > 1 && !st.isDirectory()) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += Math.max(st.blocks * 512, st.isDirectory() ? 4096 : 0);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return total;
}

/** Read the default (first) boot loader entry of a sysroot directory. */
export function defaultBootEntry(sysrootDir: string): BootEntry {
  const dir = join(sysrootDir, 'boot', 'loader', 'entries');
  const entries = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.conf')) : [];
  if (entries.length === 0) throw new AptOstreeError('ostree', `no boot loader entry in ${dir} after deploying`);
  const parsed = entries.map((n) => parseBootEntry(readFileSync(join(dir, n), 'utf8'), join(dir, n)));
  // OSTree numbers entries ostree-N-OS.conf with N = 1 for the last; "version" sorts them, highest first.
  parsed.sort((a, b) => Number(b.version ?? 0) - Number(a.version ?? 0));
  return parsed[0];
}

/** Parse a BLS entry ("key value" lines). */
export function parseBootEntry(text: string, where: string): BootEntry {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(.*?)\s*$/.exec(line);
    if (m && !m[1].startsWith('#')) kv.set(m[1], m[2]);
  }
  const linux = kv.get('linux');
  if (!linux) throw new AptOstreeError('ostree', `boot loader entry ${where} has no "linux" line`);
  return { title: kv.get('title'), version: kv.get('version'), linux, initrd: kv.get('initrd'), options: kv.get('options') ?? '' };
}

export async function composeImage(opts: ComposeImageOptions, progress: Progress, signal: AbortSignal): Promise<ComposeImageResult> {
  const out = resolve(opts.out);
  const repo = resolve(opts.repo);
  const tmpOut = `${out}.tmp`;

  // Everything that can be checked before writing anything.
  if (existsSync(out)) {
    if (statSync(out).isDirectory()) throw usageError(`${out} is a directory`, 'give the path of the image file to write');
    if (!opts.force) throw usageError(`${out} already exists`, 'pass --force to replace it, or choose another file name');
  }
  if (!existsSync(dirname(out))) throw usageError(`the directory of ${out} does not exist`);
  if (!existsSync(join(repo, 'config')) || !existsSync(join(repo, 'objects'))) {
    throw new AptOstreeError('not-found', `${repo} is not an OSTree repository`, {
      hint: 'give --repo the repository "apt-ostree compose tree" committed to',
    });
  }
  const checksum = await revParse(repo, opts.ref, { signal });
  if (!checksum) {
    throw new AptOstreeError('not-found', `no ref "${opts.ref}" in ${repo}`, { hint: `list the refs with: ostree refs --repo=${repo}` });
  }
  const kernels = await kernelsOfRef(repo, opts.ref, signal);
  if (kernels.length === 0) {
    throw new AptOstreeError(
      'invalid-config',
      `${opts.ref} (${checksum.slice(0, 10)}) has no kernel to boot: no /usr/lib/modules/KVER/vmlinuz other than the placeholder`,
      {
        hint: 'compose the tree with a real kernel, e.g. "kernel: linux-image-amd64" in the treefile',
      },
    );
  }
  const mkfs = findProgram('mkfs.ext4');
  if (!mkfs) throw new AptOstreeError('not-found', 'mkfs.ext4 is not installed', { hint: 'apt-get install e2fsprogs' });

  const uuid = randomUUID();
  const kargs = imageKargs(uuid, opts.kargs);
  const scratch = mkdtempSync(join(dirname(out), `.${basename(out)}.sysroot-`));
  rmSync(tmpOut, { force: true });
  try {
    const deployed = await composeSysroot(
      { repo, ref: opts.ref, stateroot: opts.stateroot, kargs, remote: opts.remote, dir: join(scratch, 'root') },
      progress,
      signal,
    );
    const sysroot = deployed.sysroot;
    const entry = defaultBootEntry(sysroot);

    const used = diskUsage(sysroot);
    const needed = Math.ceil((used * FS_OVERHEAD_RATIO + FS_OVERHEAD_FIXED) / SIZE_ALIGN) * SIZE_ALIGN;
    // Default: room for the tree twice over (a second deployment's new objects, layering, /var).
    const size = opts.sizeBytes ?? Math.ceil((used * 2 + 1024 * MiB) / SIZE_ALIGN) * SIZE_ALIGN;
    if (size < needed) {
      throw usageError(
        `--size ${formatSize(size)} is too small for ${opts.ref}: ` +
          `the deployed sysroot takes ${formatSize(used)}, the image needs at least ${formatSize(needed)}`,
        `give --size ${formatSize(Math.max(needed, Math.ceil((used * 2 + 1024 * MiB) / SIZE_ALIGN) * SIZE_ALIGN))
          .replace(/ GiB$/, 'G')
          .replace(/ MiB$/, 'M')} or more (room for updates), or leave --size out`,
      );
    }

    await task(progress, `Writing the ext4 image ${out} (${formatSize(size)})`, async () => {
      const r = await run(
        mkfs,
        ['-q', '-F', '-L', 'apt-ostree-root', '-U', uuid, '-E', 'root_owner=0:0', '-d', sysroot, tmpOut, `${Math.floor(size / 1024)}k`],
        { signal, okCodes: [1], errorCode: 'internal', what: `writing the filesystem image ${tmpOut}` },
      );
      if (r.code !== 0) {
        const full = /Could not allocate|No space left|too many inodes|allocate block/i.test(r.stderr);
        throw full
          ? usageError(`--size ${formatSize(size)} is too small for ${opts.ref}: mkfs.ext4 ran out of space`, 'give a larger --size')
          : new AptOstreeError('internal', `mkfs.ext4 failed writing ${tmpOut}`, { details: r.stderr.trim() });
      }
    });
    renameSync(tmpOut, out);
    return { image: out, sizeBytes: size, checksum, refspec: deployed.refspec, uuid, entry };
  } catch (e) {
    rmSync(tmpOut, { force: true });
    throw e;
  } finally {
    await removeScratchSysroot(scratch);
  }
}

/**
 * Remove a scratch directory holding a sysroot. `ostree admin deploy` makes
 * deployment roots immutable (chattr +i): clear that first.
 */
async function removeScratchSysroot(scratch: string): Promise<void> {
  await clearImmutableDeployments(join(scratch, 'root'));
  rmSync(scratch, { recursive: true, force: true });
}
