/**
 * Turning a Debian root filesystem fresh from mmdebstrap into an OSTree tree,
 * following the layout of ../tree/layout.ts (as rpm-ostree lays out its
 * trees); /dev, /proc, /sys, /run, /tmp and /boot become empty directories.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertVarToTmpfiles, DEBCONF_CACHE, DPKG_DATABASE, makeToplevelSymlinks, moveEtcToUsrEtc, moveIntoUsr } from '../tree/layout';

/** The tmpfiles.d snippet `compose tree` writes (in /usr/lib/tmpfiles.d). */
export const COMPOSE_TMPFILES_CONF = 'apt-ostree-var';

/**
 * Lay out the root filesystem at `root` (fresh from mmdebstrap, /etc still at
 * /etc) for OSTree. Idempotent parts aside, it expects a plain Debian tree.
 */
export function prepareOstreeLayout(root: string): void {
  removeVolatileState(root);
  moveIntoUsr(root, 'var/lib/dpkg', DPKG_DATABASE);
  moveIntoUsr(root, 'var/cache/debconf', DEBCONF_CACHE);
  makeToplevelSymlinks(root);
  moveEtcToUsrEtc(root);
  convertVarToTmpfiles(root, COMPOSE_TMPFILES_CONF);
  for (const [d, mode] of [
    ['dev', 0o755],
    ['proc', 0o555],
    ['sys', 0o555],
    ['run', 0o755],
    ['tmp', 0o1777],
    ['boot', 0o755],
  ] as const) {
    emptyDir(join(root, d), mode);
  }
}

/** Package lists, downloaded .debs, apt caches and logs of the build itself. */
export function removeVolatileState(root: string): void {
  for (const d of ['var/lib/apt/lists', 'var/cache/apt/archives', 'var/log']) removeFilesBelow(join(root, d));
  const cache = join(root, 'var/cache/apt');
  if (existsSync(cache)) for (const f of readdirSync(cache)) if (f.endsWith('.bin')) rmSync(join(cache, f), { force: true });
  rmSync(join(root, 'var/cache/ldconfig/aux-cache'), { force: true });
}

/** Remove the regular files (and symlinks) below `dir`, keeping its directories. */
function removeFilesBelow(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) removeFilesBelow(p);
    else rmSync(p, { force: true });
  }
}

function emptyDir(p: string, mode: number): void {
  if (existsSync(p)) {
    const st = lstatSync(p);
    if (!st.isDirectory()) rmSync(p, { force: true });
    else for (const n of readdirSync(p)) rmSync(join(p, n), { recursive: true, force: true });
  }
  mkdirSync(p, { recursive: true });
  chmodSync(p, mode);
}

/** Name of the placeholder kernel version directory. */
export const PLACEHOLDER_KVER = '0.0.0-placeholder';

/**
 * A placeholder kernel and initramfs at /usr/lib/modules/0.0.0-placeholder,
 * so that `ostree admin deploy` accepts a small tree. They are text files
 * that say what they are; such a tree does not boot.
 */
export function writePlaceholderKernel(root: string): void {
  const dir = join(root, 'usr/lib/modules', PLACEHOLDER_KVER);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'vmlinuz'),
    'apt-ostree placeholder kernel: this tree was composed with "kernel: placeholder" and cannot boot\n',
    { mode: 0o644 },
  );
  writeFileSync(
    join(dir, 'initramfs.img'),
    'apt-ostree placeholder initramfs: this tree was composed with "kernel: placeholder" and cannot boot\n',
    { mode: 0o644 },
  );
}
