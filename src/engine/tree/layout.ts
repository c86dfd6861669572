/**
 * The Debian-on-OSTree tree layout, shared by what makes trees on a build
 * server (compose) and what changes them on a client (layering):
 *
 *  - /etc lives at /usr/etc (OSTree's default configuration, merged at deploy);
 *  - /var is empty in the image: what packages put there becomes
 *    systemd-tmpfiles entries (directories `d`, symlinks `L`, empty files `f`;
 *    files with content are kept under /usr/share/factory/var and copied with `C`);
 *  - /home, /root, /opt, /srv, /mnt, /usr/local are symlinks into /var
 *    (var/home, var/roothome, var/opt, var/srv, var/mnt, var/usrlocal),
 *    /media -> run/media, /ostree -> sysroot/ostree, /sysroot a directory;
 *  - the dpkg database lives at /usr/share/dpkg/database and the debconf cache
 *    at /usr/share/debconf/cache, part of the immutable image; /var/lib/dpkg
 *    and /var/cache/debconf are `L` tmpfiles entries pointing at them;
 *  - kernels are /usr/lib/modules/VERSION/vmlinuz with their initramfs.img.
 */
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { AptOstreeError } from '../errors';
import { log } from '../log';

/** Where the dpkg database lives in an apt-ostree tree. */
export const DPKG_DATABASE = '/usr/share/dpkg/database';
/** Where the debconf cache lives in an apt-ostree tree. */
export const DEBCONF_CACHE = '/usr/share/debconf/cache';
/** Files with content found under /var are kept here and copied back by tmpfiles `C`. */
export const FACTORY_VAR = '/usr/share/factory/var';

/** Toplevel directories that OSTree puts into /var, and where. */
export const VAR_SYMLINKS: ReadonlyArray<{ path: string; target: string; link: string }> = [
  { path: 'home', target: 'var/home', link: 'var/home' },
  { path: 'root', target: 'var/roothome', link: 'var/roothome' },
  { path: 'opt', target: 'var/opt', link: 'var/opt' },
  { path: 'srv', target: 'var/srv', link: 'var/srv' },
  { path: 'mnt', target: 'var/mnt', link: 'var/mnt' },
  { path: 'usr/local', target: 'var/usrlocal', link: '../var/usrlocal' },
];

/**
 * Move `root/<from>` (a /var path) to `root/<to>` (an absolute /usr path) and
 * leave a symlink at the old place, which convertVarToTmpfiles turns into an
 * `L` entry.
 */
export function moveIntoUsr(root: string, from: string, to: string): void {
  const src = join(root, from);
  const dst = join(root, to);
  if (!existsSync(src)) return;
  const st = lstatSync(src);
  if (st.isSymbolicLink()) return; // already done
  if (existsSync(dst)) rmSync(dst, { recursive: true, force: true });
  mkdirSync(dirname(dst), { recursive: true });
  renameSync(src, dst);
  symlinkSync(to, src);
}

/** /home, /root, ... become symlinks into /var (their content moves there); /media, /ostree, /sysroot. */
export function makeToplevelSymlinks(root: string): void {
  for (const { path, target, link } of VAR_SYMLINKS) {
    const p = join(root, path);
    const t = join(root, target);
    let st: Stats | undefined;
    try {
      st = lstatSync(p);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) {
      if (readlinkSync(p) === link) continue;
      rmSync(p);
    } else if (st?.isDirectory()) {
      if (existsSync(t)) rmSync(p, { recursive: true, force: true });
      else {
        mkdirSync(dirname(t), { recursive: true });
        renameSync(p, t);
      }
    } else if (st) rmSync(p, { force: true });
    if (!existsSync(t)) mkdirSync(t, { recursive: true, mode: path === 'root' ? 0o700 : 0o755 });
    symlinkSync(link, p);
  }
  replaceWithSymlink(join(root, 'media'), 'run/media');
  replaceWithSymlink(join(root, 'ostree'), 'sysroot/ostree');
  mkdirSync(join(root, 'sysroot'), { recursive: true, mode: 0o755 });
}

function replaceWithSymlink(p: string, link: string): void {
  try {
    const st = lstatSync(p);
    if (st.isSymbolicLink() && readlinkSync(p) === link) return;
    rmSync(p, { recursive: true, force: true });
  } catch {
    /* absent */
  }
  symlinkSync(link, p);
}

/** /etc -> /usr/etc. */
export function moveEtcToUsrEtc(root: string): void {
  const etc = join(root, 'etc');
  const usrEtc = join(root, 'usr/etc');
  if (!existsSync(etc)) return;
  if (existsSync(usrEtc)) {
    throw new AptOstreeError('internal', `both ${etc} and ${usrEtc} exist`, { hint: 'the tree is half laid out; start from a fresh tree' });
  }
  renameSync(etc, usrEtc);
}

/** uid -> user name, gid -> group name, from the tree's passwd/group. */
function idNames(root: string): { user: (uid: number) => string; group: (gid: number) => string } {
  const etc = existsSync(join(root, 'usr/etc/passwd')) ? join(root, 'usr/etc') : join(root, 'etc');
  const table = (file: string): Map<number, string> => {
    const m = new Map<number, string>();
    try {
      for (const line of readFileSync(join(etc, file), 'utf8').split('\n')) {
        const f = line.split(':');
        if (f.length >= 3 && /^\d+$/.test(f[2]) && !m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
      }
    } catch {
      /* no table: numeric ids */
    }
    return m;
  };
  const users = table('passwd');
  const groups = table('group');
  return { user: (u) => users.get(u) ?? String(u), group: (g) => groups.get(g) ?? String(g) };
}

/** Paths already declared by tmpfiles.d snippets of the tree (other than `except`). */
export function declaredTmpfilesPaths(root: string, exceptConf?: string): Set<string> {
  const out = new Set<string>();
  for (const dir of ['usr/lib/tmpfiles.d', 'usr/etc/tmpfiles.d', 'etc/tmpfiles.d']) {
    const d = join(root, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (!f.endsWith('.conf') || f === `${exceptConf}.conf`) continue;
      let text: string;
      try {
        text = readFileSync(join(d, f), 'utf8');
      } catch {
        continue; // dangling symlink (masked snippet)
      }
      for (const line of text.split('\n')) {
        const t = line.trim();
        if (t === '' || t.startsWith('#')) continue;
        const cols = t.split(/\s+/);
        if (cols.length >= 2) out.add(unescapeTmpfilesPath(cols[1]));
      }
    }
  }
  return out;
}

function escapeTmpfilesPath(p: string): string {
  return p.replace(/[\\\s"']/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function unescapeTmpfilesPath(p: string): string {
  return p.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\\\/g, '\\');
}

/**
 * Turn everything under `root`/var into systemd-tmpfiles entries written to
 * `root`/usr/lib/tmpfiles.d/`confName`.conf, then empty /var. Directories
 * become `d` (mode, owner, group kept), symlinks `L`, empty files `f`; files
 * with content move to /usr/share/factory/var/... and get a `C` entry. Paths
 * another snippet already declares are left to it. An existing
 * `confName`.conf is extended, not replaced (layering reuses this on trees
 * that already have one). Sockets, FIFOs and devices are dropped.
 * Returns the lines added.
 */
export function convertVarToTmpfiles(root: string, confName: string): string[] {
  const varDir = join(root, 'var');
  const confDir = join(root, 'usr/lib/tmpfiles.d');
  const confPath = join(confDir, `${confName}.conf`);
  const declared = declaredTmpfilesPaths(root, confName);
  const own = new Set<string>();
  if (existsSync(confPath)) {
    for (const line of readFileSync(confPath, 'utf8').split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols.length >= 2 && !line.trim().startsWith('#')) own.add(unescapeTmpfilesPath(cols[1]));
    }
  }
  const ids = idNames(root);
  const lines: string[] = [];
  const walk = (rel: string): void => {
    const abs = join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      const childRel = `${rel}/${name}`;
      const childAbs = join(root, childRel);
      const st = lstatSync(childAbs);
      const path = `/${childRel}`;
      const skip = declared.has(path) || own.has(path);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      const owner = `${ids.user(st.uid)} ${ids.group(st.gid)}`;
      const esc = escapeTmpfilesPath(path);
      if (st.isDirectory()) {
        if (!skip) lines.push(`d ${esc} ${mode} ${owner} - -`);
        walk(childRel);
      } else if (st.isSymbolicLink()) {
        if (!skip) lines.push(`L ${esc} - - - - ${readlinkSync(childAbs)}`);
      } else if (st.isFile()) {
        if (skip) continue;
        if (st.size === 0) {
          lines.push(`f ${esc} ${mode} ${owner} - -`);
        } else {
          const factory = join(root, FACTORY_VAR, childRel.slice('var/'.length));
          mkdirSync(dirname(factory), { recursive: true });
          try {
            renameSync(childAbs, factory);
          } catch {
            copyFileSync(childAbs, factory);
          }
          lines.push(`C ${esc} - - - - ${escapeTmpfilesPath(join(FACTORY_VAR, childRel.slice('var/'.length)))}`);
        }
      } else {
        log.warning(`dropping ${path} from the tree: a socket, FIFO or device cannot be committed`);
      }
    }
  };
  if (existsSync(varDir)) walk('var');
  if (lines.length > 0) {
    mkdirSync(confDir, { recursive: true });
    if (existsSync(confPath)) appendFileSync(confPath, `${lines.join('\n')}\n`);
    else
      writeFileSync(
        confPath,
        `# Generated by apt-ostree: what packages put under /var, which is empty in the image.\n${lines.join('\n')}\n`,
        { mode: 0o644 },
      );
  }
  if (existsSync(varDir)) for (const n of readdirSync(varDir)) rmSync(join(varDir, n), { recursive: true, force: true });
  else mkdirSync(varDir, { mode: 0o755 });
  return lines;
}

/** Where the dpkg database of a tree is: the layout's, or a plain tree's /var/lib/dpkg. */
export function dpkgDatabaseOf(root: string): string {
  const usr = join(root, DPKG_DATABASE);
  return existsSync(usr) ? usr : join(root, 'var/lib/dpkg');
}

/** A kernel of a tree: /usr/lib/modules/VERSION/vmlinuz, with its initramfs when there is one. */
export interface TreeKernel {
  version: string;
  /** Absolute path of the kernel image. */
  vmlinuz: string;
  /** Absolute path of /usr/lib/modules/VERSION/initramfs.img, when it exists. */
  initramfs?: string;
}

/** The kernels of the tree at `root`, by version. */
export function treeKernels(root: string): TreeKernel[] {
  const mods = join(root, 'usr/lib/modules');
  if (!existsSync(mods)) return [];
  const out: TreeKernel[] = [];
  for (const version of readdirSync(mods).sort()) {
    const vmlinuz = join(mods, version, 'vmlinuz');
    if (!existsSync(vmlinuz)) continue;
    const initramfs = join(mods, version, 'initramfs.img');
    out.push(existsSync(initramfs) ? { version, vmlinuz, initramfs } : { version, vmlinuz });
  }
  return out;
}
