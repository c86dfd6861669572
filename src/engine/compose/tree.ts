/**
 * `compose tree`: a treefile -> mmdebstrap -> OSTree layout -> a commit in an
 * archive repository, with the metadata later commands read (version, suite,
 * installed packages, security-sourced packages, inputs checksum).
 *
 * Runs in-process (not a daemon operation). Phases are reported through
 * `task()`: each named as it starts, with its time at the end.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import { log } from '../log';
import { task, type Progress } from '../progress';
import { META_INPUTS, META_PACKAGES, META_SECURITY_UPDATES, META_SUITE, META_VERSION, type PackageRecord } from '../ostree/metadata';
import { commitTree, initRepo, packagesJson, readCommitMetadataString, revParse, updateSummary } from '../ostree/repo';
import { KERNEL_PLACEHOLDER, normalizeTreefile, type Treefile } from '../treefile';
import { fetchReleaseIndex, isSecurityRelease, resolveSources, sourceLine, type AptSource, type ReleaseIndex } from './mirror';
import { treeKernels } from '../tree/layout';
import { prepareOstreeLayout, writePlaceholderKernel } from './layout';

/** Bumped when the layout code changes what a compose produces: invalidates "no change". */
export const COMPOSE_FORMAT = 'apt-ostree-compose-1';

export interface ComposeTreeOptions {
  treefile: Treefile;
  repo: string;
  progress: Progress;
  signal?: AbortSignal;
  /** ed25519 secret key file (base64 seed+public key, as `ostree sign` takes). */
  ed25519KeyFile?: string;
  gpgSign?: { keyId: string; homedir?: string };
  /** Generate a static delta from the ref's previous commit. */
  staticDelta?: boolean;
  /** Commit even when the inputs are unchanged. */
  force?: boolean;
  /** Where the tree is built (default: REPO/tmp). */
  workdir?: string;
  /** /etc/apt of the machine whose sources are the default mirror (tests). */
  etcApt?: string;
}

export interface ComposeTreeResult {
  changed: boolean;
  ref: string;
  /** Checksum of the ref's head after the compose. */
  checksum: string;
  version: string;
  inputsChecksum: string;
  packages: number;
}

export async function composeTree(o: ComposeTreeOptions): Promise<ComposeTreeResult> {
  const tf = o.treefile;
  const { progress, signal } = o;

  // 1. Everything that can be checked before anything is written.
  if (existsSync(o.repo) && !statIsDir(o.repo)) {
    throw new AptOstreeError('usage', `repository path ${o.repo} is a file, not a directory`, {
      hint: 'give --repo the path of an OSTree repository, or of a directory to create',
    });
  }
  for (const deb of tf.localPackages) {
    if (!existsSync(deb)) throw new AptOstreeError('invalid-config', `treefile ${tf.path}: field "local-packages": ${deb} does not exist`);
  }
  const ed25519Key = o.ed25519KeyFile !== undefined ? await readEd25519Key(o.ed25519KeyFile) : undefined;

  const { sources, indexes } = await task(progress, 'Fetching the archive indexes', async () => {
    const sources = resolveSources(tf.mirrors, tf.suite, tf.components, o.etcApt);
    const indexes: ReleaseIndex[] = [];
    for (const s of sources) {
      const idx = await fetchReleaseIndex(s, signal);
      if (idx) indexes.push(idx);
    }
    return { sources: indexes.map((i) => i.source), indexes };
  });
  const arch = tf.architecture ?? (await run('dpkg', ['--print-architecture'])).stdout.trim();
  const inputsChecksum = computeInputsChecksum(tf, arch, indexes);

  const created = await initRepo(o.repo, 'archive');
  const parent = await revParse(o.repo, tf.ref);
  if (parent !== undefined && !o.force) {
    const prev = await readCommitMetadataString(o.repo, parent, META_INPUTS);
    if (prev === inputsChecksum) {
      const version = (await readCommitMetadataString(o.repo, parent, META_VERSION)) ?? '';
      progress.message(`no change: ${tf.ref} is ${parent} (version ${version}), built from the same inputs`);
      return { changed: false, ref: tf.ref, checksum: parent, version, inputsChecksum, packages: 0 };
    }
  }

  const workParent = o.workdir ?? join(o.repo, 'tmp');
  mkdirSync(workParent, { recursive: true });
  const work = mkdtempSync(join(workParent, 'apt-ostree-compose-'));
  const rootfs = join(work, 'rootfs');
  try {
    await task(progress, `Bootstrapping ${tf.suite} (${tf.variant}) with mmdebstrap`, () =>
      runMmdebstrap(tf, arch, sources, work, rootfs, progress, signal),
    );

    const meta = await task(progress, 'Reading the package database', async () => {
      const pkgs = await installedPackages(rootfs);
      const security = securityPackages(rootfs, pkgs);
      return { pkgs, security };
    });

    await task(progress, 'Laying out the tree for OSTree', async () => {
      if (tf.kernel === KERNEL_PLACEHOLDER) writePlaceholderKernel(rootfs);
      else if (!treeKernels(rootfs).some((k) => k.initramfs !== undefined)) {
        throw new AptOstreeError('internal', `the kernel package ${tf.kernel} left no vmlinuz/initramfs.img in /usr/lib/modules`, {
          hint: 'is it a Debian linux-image package?',
        });
      }
      prepareOstreeLayout(rootfs);
    });

    const version = tf.version ?? (await dateVersion(o.repo, parent));
    const checksum = await task(progress, `Committing ${tf.ref} (version ${version})`, () =>
      commitTree({
        repo: o.repo,
        branch: tf.ref,
        tree: { dir: rootfs },
        subject: `${tf.ref} ${version}`,
        metadata: {
          [META_VERSION]: version,
          [META_SUITE]: tf.suite,
          [META_PACKAGES]: packagesJson(meta.pkgs),
          [META_SECURITY_UPDATES]: JSON.stringify(meta.security),
          [META_INPUTS]: inputsChecksum,
        },
        consume: true,
        // ostree.bootable and ostree.linux (the tree always has a kernel here, placeholder or real).
        extraArgs: ['--bootable'],
        gpgSign: o.gpgSign,
        signal,
      }),
    );

    if (ed25519Key !== undefined) {
      await task(progress, 'Signing the commit (ed25519)', async () => {
        await run('ostree', ['sign', `--repo=${o.repo}`, '--sign-type=ed25519', checksum, ed25519Key], {
          errorCode: 'ostree',
          what: 'signing the commit',
        });
      });
    }
    if (o.staticDelta && parent !== undefined) {
      await task(progress, 'Generating a static delta from the previous commit', async () => {
        await run('ostree', ['static-delta', 'generate', `--repo=${o.repo}`, `--from=${parent}`, `--to=${checksum}`], {
          errorCode: 'ostree',
          what: 'generating the static delta',
          signal,
        });
      });
    }
    await task(progress, 'Updating the summary', () => updateSummary(o.repo, { gpgSign: o.gpgSign, ed25519SecretKey: ed25519Key }));
    progress.message(`${tf.ref} => ${checksum} (version ${version}, ${meta.pkgs.length} packages)`);
    return { changed: true, ref: tf.ref, checksum, version, inputsChecksum, packages: meta.pkgs.length };
  } catch (e) {
    if (created) rmSync(o.repo, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function statIsDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** sha256 over the format, the normalized treefile, the architecture, the sources, their release indexes, local .debs. */
export function computeInputsChecksum(tf: Treefile, arch: string, indexes: readonly ReleaseIndex[]): string {
  const h = createHash('sha256');
  h.update(`${COMPOSE_FORMAT}\n${normalizeTreefile(tf)}\narch=${arch}\n`);
  for (const i of indexes) h.update(`source ${sourceLine(i.source)} ${i.sha256}\n`);
  for (const deb of tf.localPackages) h.update(`deb ${createHash('sha256').update(readFileSync(deb)).digest('hex')}\n`);
  return h.digest('hex');
}

/** YYYYMMDD.N, N one more than the previous commit's when it is of the same day. */
async function dateVersion(repo: string, parent: string | undefined): Promise<string> {
  const d = new Date();
  const day = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  if (parent === undefined) return `${day}.0`;
  const prev = (await readCommitMetadataString(repo, parent, META_VERSION)) ?? '';
  const m = /^(\d{8})\.(\d+)$/.exec(prev);
  return m && m[1] === day ? `${day}.${Number(m[2]) + 1}` : `${day}.0`;
}

async function runMmdebstrap(
  tf: Treefile,
  arch: string,
  sources: readonly AptSource[],
  work: string,
  rootfs: string,
  progress: Progress,
  signal?: AbortSignal,
): Promise<void> {
  const include = [...tf.packages];
  if (tf.kernel !== KERNEL_PLACEHOLDER) include.push(tf.kernel, 'dracut', 'ostree-boot');
  // Kept until the lists are read for META_SECURITY_UPDATES; the layout step removes them.
  const hook = join(work, 'customize.sh');
  writeFileSync(hook, customizeScript(tf.kernel !== KERNEL_PLACEHOLDER));
  chmodSync(hook, 0o755);
  const args = [
    '--mode=root',
    `--variant=${tf.variant}`,
    `--architectures=${arch}`,
    `--components=${tf.components.join(',')}`,
    '--skip=cleanup/apt/lists',
    '--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount',
    `--customize-hook=${hook}`,
  ];
  if (include.length > 0) args.push(`--include=${include.join(',')}`);
  for (const deb of tf.localPackages) args.push(`--include=${deb}`);
  args.push(tf.suite, rootfs, ...sources.map(sourceLine));
  let lastLine = '';
  await run('mmdebstrap', args, {
    signal,
    errorCode: 'apt',
    what: `mmdebstrap of ${tf.suite}`,
    // INITRD=No: the kernel's own postinst hook makes no /boot/initrd.img
    // (thrown away anyway); the customize hook builds the one we keep.
    env: { ...process.env, LC_ALL: 'C.UTF-8', INITRD: 'No' },
    onStderrLine: (l) => {
      const m = /^I: (.*)$/.exec(l);
      if (m && m[1] !== lastLine) {
        lastLine = m[1];
        log.debug(`mmdebstrap: ${m[1]}`);
      }
      void progress;
    },
    hint: 'check the package names in the treefile and that the mirror has the suite',
  });
}

/**
 * The customize hook, run by mmdebstrap with the root as $1 (mounts in place,
 * policy-rc.d still there: no daemon starts): systemd presets; and, with a
 * real kernel, vmlinuz + a dracut initramfs (not host-only, with the ostree
 * module from ostree-boot) at /usr/lib/modules/$kver/, /boot emptied.
 */
function customizeScript(realKernel: boolean): string {
  const lines = ['#!/bin/sh', 'set -eu', 'root="$1"'];
  lines.push(
    'if [ -x "$root/usr/bin/systemctl" ] || [ -x "$root/bin/systemctl" ]; then ' +
      'chroot "$root" systemctl preset-all >/dev/null 2>&1 || chroot "$root" systemctl preset-all; fi',
  );
  if (realKernel) {
    lines.push(
      'found=0',
      'for k in "$root"/boot/vmlinuz-*; do',
      '  [ -e "$k" ] || continue',
      '  kver="${k##*/vmlinuz-}"',
      '  found=1',
      '  mkdir -p "$root/usr/lib/modules/$kver"',
      '  cp "$k" "$root/usr/lib/modules/$kver/vmlinuz"',
      '  chroot "$root" dracut --no-hostonly --force --add-drivers "virtio_blk virtio_pci virtio_scsi ext4" ' +
        '--kver "$kver" "/usr/lib/modules/$kver/initramfs.img"',
      'done',
      '[ "$found" = 1 ] || { echo "no kernel in /boot" >&2; exit 1; }',
      'rm -rf "$root"/boot/* ',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** [name, version, arch] of every installed package, from dpkg-query on the tree's database. */
async function installedPackages(rootfs: string): Promise<PackageRecord[]> {
  const r = await run(
    'dpkg-query',
    [`--admindir=${join(rootfs, 'var/lib/dpkg')}`, '-W', '-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'],
    {
      errorCode: 'dpkg',
      what: 'listing the installed packages',
    },
  );
  return r.stdout
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length === 4 && f[0].startsWith('ii'))
    .map(([, name, version, arch]) => ({ name, version, arch }));
}

/**
 * Installed packages whose installed version is listed by a security source
 * (a list whose Release is a security archive, see isSecurityRelease), read
 * from the tree's APT lists. Sorted names.
 */
export function securityPackages(rootfs: string, installed: readonly PackageRecord[]): string[] {
  const lists = join(rootfs, 'var/lib/apt/lists');
  if (!existsSync(lists)) return [];
  const files = readdirSync(lists);
  const fromSecurity = new Set<string>();
  for (const f of files) {
    const m = /^(.*_)(InRelease|Release)$/.exec(f);
    if (!m) continue;
    if (!isSecurityRelease(readFileSync(join(lists, f), 'utf8'))) continue;
    for (const p of files.filter((x) => x.startsWith(m[1]) && /_Packages(\.gz)?$/.test(x))) {
      const raw = readFileSync(join(lists, p));
      const text = (p.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
      let name = '';
      for (const line of text.split('\n')) {
        if (line.startsWith('Package: ')) name = line.slice(9).trim();
        else if (line.startsWith('Version: ')) fromSecurity.add(`${name}\t${line.slice(9).trim()}`);
      }
    }
  }
  return [...new Set(installed.filter((p) => fromSecurity.has(`${p.name}\t${p.version}`)).map((p) => p.name))].sort();
}

/** Read an ed25519 secret key file for `ostree sign`; check that this ostree can sign with ed25519. */
async function readEd25519Key(file: string): Promise<string> {
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new AptOstreeError('usage', `cannot read the ed25519 key ${file}: ${(e as Error).message}`);
  }
  if (!/^[A-Za-z0-9+/=]{40,}$/.test(key)) {
    throw new AptOstreeError(
      'usage',
      `${file} is not an ed25519 secret key (base64 of the 64-byte seed and public key, as ostree sign takes)`,
    );
  }
  await assertEd25519Supported();
  return key;
}

/** Debian 12's ostree (2022.7) is built without libsodium: it cannot sign with ed25519. */
export async function assertEd25519Supported(): Promise<void> {
  const r = await run('ostree', ['--version'], { errorCode: 'ostree' });
  if (!/sign-ed25519/.test(r.stdout)) {
    throw new AptOstreeError(
      'not-implemented',
      'this ostree was built without ed25519 signature support (no "sign-ed25519" in ostree --version)',
      {
        hint: 'sign with GPG instead: --gpg-sign KEYID --gpg-homedir DIR',
      },
    );
  }
}
