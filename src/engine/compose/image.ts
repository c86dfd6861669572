/**
 * `compose image`: a disk image that UEFI firmware boots. REF is deployed
 * into a scratch sysroot (the same way as `compose sysroot`); the image is a
 * GPT disk with three partitions, each made as a file of its own and copied
 * into the disk file (no loop device, no mount):
 *
 *   1  EFI system partition (FAT32, mkfs.vfat + mcopy): GRUB on the
 *      removable-media path EFI/BOOT/BOOTX64.EFI and a grub.cfg that reads
 *      the menu OSTree keeps in /boot (see ./bootloader.ts);
 *   2  /boot (ext4, mkfs.ext4 -d): OSTree's kernels, initramfs images, BLS
 *      entries and GRUB menu. It is a partition of its own because OSTree
 *      writes the entries' paths relative to /boot (/ostree/...), which is
 *      what GRUB sees on a separate /boot;
 *   3  the root file system (ext4, mkfs.ext4 -d): the sysroot, last on the
 *      disk so that it can grow: a unit written into the deployment's /etc
 *      grows it to the disk on the first boot.
 *
 * The deployment's /etc gets what an installer writes: fstab (/boot),
 * /etc/default/grub when the tree has none, the grow-root unit; the
 * sysroot's repository gets sysroot.bootloader=grub2.
 *
 * `--format qcow2` converts the raw disk with qemu-img. Nothing half-written
 * stays behind: the disk is made in OUT.tmp and renamed to OUT, and the
 * scratch directory (sysroot, partition files) is removed whatever happens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { AptOstreeError, usageError } from '../errors';
import { run } from '../exec';
import { revParse } from '../ostree/repo';
import { task, type Progress } from '../progress';
import {
  DEFAULT_GRUB,
  ESP_GRUB_CFG_DIRS,
  ESP_LOADER_PATH,
  espGrubCfg,
  espLoaderFiles,
  GROW_ROOT_SERVICE,
  GROW_ROOT_UNIT,
  initialGrubCfg,
  missingBootloaderFiles,
} from './bootloader';
import { PLACEHOLDER_KVER } from './layout';
import { clearImmutableDeployments, composeSysroot, type RemoteSpec } from './sysroot';

export const IMAGE_FORMATS = ['raw', 'qcow2'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** Parse `--format`. */
export function parseFormat(s: string): ImageFormat {
  const f = IMAGE_FORMATS.find((x) => x === s);
  if (!f) throw usageError(`--format "${s}" is not an image format`, `give one of: ${IMAGE_FORMATS.join(', ')}`);
  return f;
}

export interface ComposeImageOptions {
  repo: string;
  ref: string;
  /** The image file to write. */
  out: string;
  /** Default raw. */
  format?: ImageFormat;
  /** Bytes of the whole disk; undefined = large enough for the tree and one more deployment. */
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

export interface ImagePartition {
  number: number;
  role: 'esp' | 'boot' | 'root';
  /** Byte offset and size in the disk. */
  start: number;
  size: number;
  /** The file system's UUID (ext4) or volume id (FAT). */
  fsUuid: string;
}

export interface ComposeImageResult {
  image: string;
  format: ImageFormat;
  /** Virtual size of the disk. */
  sizeBytes: number;
  checksum: string;
  refspec: string;
  /** File system UUID of the root partition (root=UUID=… in the default kernel arguments). */
  uuid: string;
  /** File system UUID of the /boot partition. */
  bootUuid: string;
  partitions: ImagePartition[];
  /** Where the firmware finds the boot loader on the ESP. */
  loader: string;
  /** Debian's signed chain (shim, signed GRUB) for Secure Boot, rather than the unsigned GRUB. */
  signed: boolean;
  /** The default boot entry of the image (paths relative to /boot). */
  entry: BootEntry;
}

const MiB = 1024 * 1024;
/** ext4's own overhead (journal, inode tables, reserved blocks) on top of the files. */
const FS_OVERHEAD_FIXED = 160 * MiB;
const FS_OVERHEAD_RATIO = 1.12;
const SIZE_ALIGN = 64 * MiB;
/** GPT: the partitions start at 1 MiB; the last MiB holds the backup table. */
const DISK_HEAD = MiB;
const DISK_TAIL = MiB;
export const ESP_SIZE = 128 * MiB;
const BOOT_MIN = 512 * MiB;
const GPT_TYPES = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  boot: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  root: '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709',
} as const;
const PART_NAMES = { esp: 'EFI System', boot: 'boot', root: 'root' } as const;

const alignUp = (n: number, a = SIZE_ALIGN): number => Math.ceil(n / a) * a;
const sizeArg = (bytes: number): string => formatSize(bytes).replace(/ GiB$/, 'G').replace(/ MiB$/, 'M');

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

/** The sizes of the partitions: the ESP, /boot (room for 4 kernel sets), root (what is left, or the tree twice over). */
export function imageLayout(
  rootUsed: number,
  bootUsed: number,
  sizeBytes: number | undefined,
): { boot: number; root: number; rootNeeded: number; total: number; minimum: number; suggested: number } {
  const boot = alignUp(Math.max(BOOT_MIN, 4 * bootUsed + 64 * MiB));
  const rootNeeded = alignUp(rootUsed * FS_OVERHEAD_RATIO + FS_OVERHEAD_FIXED);
  // Default: room for the tree twice over (a second deployment's new objects, layering, /var).
  const rootDefault = Math.max(rootNeeded, alignUp(rootUsed * 2 + 1024 * MiB));
  const fixed = DISK_HEAD + ESP_SIZE + boot + DISK_TAIL;
  const total = sizeBytes ?? fixed + rootDefault;
  const root = Math.floor((total - fixed) / MiB) * MiB;
  return { boot, root, rootNeeded, total, minimum: fixed + rootNeeded, suggested: fixed + rootDefault };
}

/** ENOSPC from a tool or from Node: the output's file system is full. */
function isNoSpace(e: unknown): boolean {
  if (e instanceof AptOstreeError) return /No space left on device|ENOSPC/i.test(`${e.message}\n${e.details ?? ''}`);
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC';
}

function noSpaceError(dir: string, needed: number): AptOstreeError {
  return new AptOstreeError('internal', `no space left on the file system of ${dir} for the image`, {
    hint: `the image needs about ${formatSize(needed)} free there while it is written: free some space, or write OUT to another file system`,
  });
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Write an ext4 file system image of SIZE holding DIR. */
async function mkfsExt4(
  mkfs: string,
  dir: string,
  file: string,
  size: number,
  label: string,
  uuid: string,
  ref: string,
  signal: AbortSignal,
): Promise<void> {
  const r = await run(mkfs, ['-q', '-F', '-L', label, '-U', uuid, '-E', 'root_owner=0:0', '-d', dir, file, `${Math.floor(size / 1024)}k`], {
    signal,
    okCodes: [1],
    errorCode: 'internal',
    what: `writing the file system image ${file}`,
  });
  if (r.code === 0) return;
  if (/No space left on device/i.test(r.stderr))
    throw new AptOstreeError('internal', `mkfs.ext4 failed writing ${file}: No space left on device`);
  if (/Could not allocate|too many inodes|allocate block/i.test(r.stderr)) {
    throw usageError(
      `the ${label} partition (${formatSize(size)}) is too small for ${ref}: mkfs.ext4 ran out of space`,
      'give a larger --size',
    );
  }
  throw new AptOstreeError('internal', `mkfs.ext4 failed writing ${file}`, { details: r.stderr.trim() });
}

export async function composeImage(opts: ComposeImageOptions, progress: Progress, signal: AbortSignal): Promise<ComposeImageResult> {
  const out = resolve(opts.out);
  const repo = resolve(opts.repo);
  const format = opts.format ?? 'raw';
  const tmpOut = `${out}.tmp`;
  const rawOut = format === 'raw' ? tmpOut : `${out}.raw.tmp`;

  // Everything that can be checked before writing anything.
  if (!IMAGE_FORMATS.includes(format)) throw parseFormat(String(format));
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
  if (opts.sizeBytes !== undefined && opts.sizeBytes < DISK_HEAD + ESP_SIZE + BOOT_MIN + DISK_TAIL) {
    throw usageError(
      `--size ${formatSize(opts.sizeBytes)} is too small for a disk image: the EFI system partition (${formatSize(ESP_SIZE)}) and /boot (${formatSize(BOOT_MIN)}) alone take more`,
      'give --size 4G or more, or leave --size out',
    );
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
  const missing = await missingBootloaderFiles(repo, opts.ref, signal);
  if (missing.length > 0) {
    throw new AptOstreeError(
      'invalid-config',
      `${opts.ref} (${checksum.slice(0, 10)}) has no boot loader for the image: ${missing.map((m) => `${m.path} (${m.why})`).join('; ')} missing`,
      { hint: `add ${missing.map((m) => m.pkg).join(', ')} to "packages:" in the treefile and compose the tree again` },
    );
  }
  const tools = {
    mkfs: findProgram('mkfs.ext4'),
    vfat: findProgram('mkfs.vfat'),
    mcopy: findProgram('mcopy'),
    sfdisk: findProgram('sfdisk'),
  };
  const pkgOf = { mkfs: 'e2fsprogs', vfat: 'dosfstools', mcopy: 'mtools', sfdisk: 'fdisk' } as const;
  for (const [k, v] of Object.entries(tools)) {
    if (!v)
      throw new AptOstreeError('not-found', `${k === 'vfat' ? 'mkfs.vfat' : k === 'mkfs' ? 'mkfs.ext4' : k} is not installed`, {
        hint: `apt-get install ${pkgOf[k as keyof typeof pkgOf]}`,
      });
  }
  if (format === 'qcow2' && !findProgram('qemu-img'))
    throw new AptOstreeError('not-found', 'qemu-img is not installed', { hint: 'apt-get install qemu-utils' });

  const uuid = randomUUID();
  const bootUuid = randomUUID();
  const espId = randomBytes(4).toString('hex').toUpperCase();
  const kargs = imageKargs(uuid, opts.kargs);
  const outDir = dirname(out);
  let scratch: string;
  try {
    scratch = mkdtempSync(join(outDir, `.${basename(out)}.sysroot-`));
  } catch (e) {
    if (isNoSpace(e)) throw noSpaceError(outDir, 0);
    throw e;
  }
  rmSync(tmpOut, { force: true });
  rmSync(rawOut, { force: true });
  let needed = 0;
  let signed = false;
  try {
    const deployed = await composeSysroot(
      { repo, ref: opts.ref, stateroot: opts.stateroot, kargs, remote: opts.remote, dir: join(scratch, 'root') },
      progress,
      signal,
    );
    const sysroot = deployed.sysroot;
    const entry = defaultBootEntry(sysroot);
    const deployRoot = deployed.deployPath;

    await task(progress, 'Installing the boot loader configuration', async () => {
      // What an installer writes into the deployment's /etc.
      const etc = join(deployRoot, 'etc');
      writeFileSync(
        join(etc, 'fstab'),
        `# Written by apt-ostree compose image. The root file system is mounted by the initramfs (root= and ostree=).\nUUID=${bootUuid} /boot ext4 defaults 0 2\n`,
      );
      if (!existsSync(join(etc, 'default', 'grub'))) {
        mkdirSync(join(etc, 'default'), { recursive: true });
        writeFileSync(join(etc, 'default', 'grub'), DEFAULT_GRUB);
      }
      const units = join(etc, 'systemd', 'system');
      mkdirSync(join(units, 'multi-user.target.wants'), { recursive: true });
      writeFileSync(join(units, GROW_ROOT_UNIT), GROW_ROOT_SERVICE);
      symlinkSync(`../${GROW_ROOT_UNIT}`, join(units, 'multi-user.target.wants', GROW_ROOT_UNIT));
      // OSTree runs grub-mkconfig at every deployment.
      await run('ostree', ['config', `--repo=${join(sysroot, 'ostree', 'repo')}`, 'set', 'sysroot.bootloader', 'grub2'], {
        signal,
        errorCode: 'ostree',
      });
      const bootDir = join(sysroot, 'boot');
      const bootversion = Number(/^loader\.(\d)$/.exec(readlinkSync(join(bootDir, 'loader')))?.[1] ?? 0);
      writeFileSync(join(bootDir, `loader.${bootversion}`, 'grub.cfg'), await initialGrubCfg(sysroot, bootversion, bootUuid, signal));
      mkdirSync(join(bootDir, 'grub'), { recursive: true });
      symlinkSync('../loader/grub.cfg', join(bootDir, 'grub', 'grub.cfg'));
      // The EFI system partition's files.
      const esp = join(scratch, 'esp');
      mkdirSync(dirname(join(esp, ESP_LOADER_PATH)), { recursive: true });
      const loader = espLoaderFiles((p) => existsSync(join(deployRoot, p)));
      for (const [name, from] of Object.entries(loader.files))
        copyFileSync(join(deployRoot, from), join(dirname(join(esp, ESP_LOADER_PATH)), name));
      signed = loader.signed;
      for (const d of ESP_GRUB_CFG_DIRS) {
        mkdirSync(join(esp, d), { recursive: true });
        writeFileSync(join(esp, d, 'grub.cfg'), espGrubCfg(bootUuid));
      }
      // /boot becomes a partition of its own.
      renameSync(bootDir, join(scratch, 'boot'));
      mkdirSync(bootDir, { mode: 0o755 });
    });

    const bootUsed = diskUsage(join(scratch, 'boot'));
    const rootUsed = diskUsage(sysroot);
    const layout = imageLayout(rootUsed, bootUsed, opts.sizeBytes);
    if (layout.root < layout.rootNeeded) {
      throw usageError(
        `--size ${formatSize(layout.total)} is too small for ${opts.ref}: the EFI system partition (${formatSize(ESP_SIZE)}), /boot (${formatSize(layout.boot)}) and the root file system (at least ${formatSize(layout.rootNeeded)} for a deployed sysroot of ${formatSize(rootUsed)}) need at least ${formatSize(layout.minimum)}`,
        `give --size ${sizeArg(Math.max(layout.minimum, layout.suggested))} or more (room for updates), or leave --size out`,
      );
    }
    // The partition files, the disk (sparse, about what the files hold) and a qcow2 copy.
    needed = Math.ceil((rootUsed + bootUsed) * (format === 'qcow2' ? 3.3 : 2.2) + 256 * MiB);
    if (freeBytes(outDir) < needed) throw noSpaceError(outDir, needed);

    const espImg = join(scratch, 'esp.img');
    const bootImg = join(scratch, 'boot.img');
    const rootImg = join(scratch, 'root.img');
    await task(progress, `Writing the EFI system partition (${formatSize(ESP_SIZE)}, FAT32)`, async () => {
      await run(tools.vfat ?? 'mkfs.vfat', ['-F', '32', '-n', 'EFI', '-i', espId, '-C', espImg, String(ESP_SIZE / 1024)], {
        signal,
        what: 'writing the EFI system partition',
      });
      await run(tools.mcopy ?? 'mcopy', ['-s', '-Q', '-i', espImg, join(scratch, 'esp', 'EFI'), '::/'], {
        signal,
        what: 'copying the boot loader into the EFI system partition',
      });
    });
    await task(progress, `Writing /boot (${formatSize(layout.boot)}, ext4)`, () =>
      mkfsExt4(tools.mkfs ?? 'mkfs.ext4', join(scratch, 'boot'), bootImg, layout.boot, 'apt-ostree-boot', bootUuid, opts.ref, signal),
    );
    await task(progress, `Writing the root file system (${formatSize(layout.root)}, ext4)`, () =>
      mkfsExt4(tools.mkfs ?? 'mkfs.ext4', sysroot, rootImg, layout.root, 'apt-ostree-root', uuid, opts.ref, signal),
    );

    const parts: ImagePartition[] = [];
    let at = DISK_HEAD;
    for (const [role, size, fsUuid] of [
      ['esp', ESP_SIZE, espId],
      ['boot', layout.boot, bootUuid],
      ['root', layout.root, uuid],
    ] as const) {
      parts.push({ number: parts.length + 1, role, start: at, size, fsUuid });
      at += size;
    }
    await task(progress, `Writing the disk ${format === 'raw' ? out : rawOut} (${formatSize(layout.total)}, GPT)`, async () => {
      const fd = openSync(rawOut, 'w');
      try {
        ftruncateSync(fd, layout.total);
      } finally {
        closeSync(fd);
      }
      const script = [
        'label: gpt',
        'unit: sectors',
        ...parts.map((p) => `start=${p.start / 512}, size=${p.size / 512}, type=${GPT_TYPES[p.role]}, name="${PART_NAMES[p.role]}"`),
        '',
      ].join('\n');
      await run(tools.sfdisk ?? 'sfdisk', ['--no-reread', '--no-tell-kernel', '-q', rawOut], {
        input: script,
        signal,
        what: 'writing the partition table',
      });
      const files = { esp: espImg, boot: bootImg, root: rootImg };
      for (const p of parts) {
        await run('dd', [`if=${files[p.role]}`, `of=${rawOut}`, 'bs=1M', `seek=${p.start / MiB}`, 'conv=notrunc,sparse', 'status=none'], {
          signal,
          what: `copying the ${p.role} partition into the disk`,
        });
        rmSync(files[p.role], { force: true });
      }
    });
    if (format === 'qcow2') {
      await task(progress, `Converting to qcow2: ${tmpOut}`, async () => {
        await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawOut, tmpOut], { signal, what: 'converting the disk to qcow2' });
        rmSync(rawOut, { force: true });
      });
    }
    renameSync(tmpOut, out);
    return {
      image: out,
      format,
      sizeBytes: layout.total,
      checksum,
      refspec: deployed.refspec,
      uuid,
      bootUuid,
      partitions: parts,
      loader: ESP_LOADER_PATH,
      signed,
      entry,
    };
  } catch (e) {
    rmSync(tmpOut, { force: true });
    rmSync(rawOut, { force: true });
    if (isNoSpace(e)) throw noSpaceError(outDir, needed);
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
