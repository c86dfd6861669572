/**
 * Bubblewrap command lines for running a tree's own APT and dpkg: the tree is
 * the root, nothing of the host is reachable but what is bound explicitly.
 */
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { DEBCONF_CACHE, dpkgDatabaseOf } from '../tree/layout';

/** Environment of every sandboxed command: nothing of the caller's. */
export const SANDBOX_ENV: Record<string, string> = {
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  LC_ALL: 'C',
  DEBIAN_FRONTEND: 'noninteractive',
  DEBCONF_NONINTERACTIVE_SEEN: 'true',
  HOME: '/root',
  TERM: 'dumb',
};

/** Namespaces and hygiene shared by all sandboxes. */
export function baseIsolation(opts: { network: boolean }): string[] {
  const a = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session', '--cap-add', 'ALL', '--clearenv'];
  if (!opts.network) a.push('--unshare-net');
  for (const [k, v] of Object.entries(SANDBOX_ENV)) a.push('--setenv', k, v);
  a.push('--hostname', 'apt-ostree');
  return a;
}

/**
 * The capabilities dpkg and the maintainer scripts keep (all others are
 * dropped; bubblewrap also sets no_new_privs, so no exec, of a setuid program
 * or of anything as root, gives one back): owning
 * and moding files of any owner (CHOWN, FOWNER, FSETID, DAC_OVERRIDE,
 * DAC_READ_SEARCH), running a command as another user or group (SETUID,
 * SETGID: su, runuser, setpriv), and file capabilities (SETFCAP: setcap in
 * a postinst, e.g. ping's). Not kept: MKNOD (packages ship no device nodes;
 * /dev is bubblewrap's own), SYS_ADMIN (no mounts), NET_* (no network), KILL,
 * SYS_CHROOT, SYS_MODULE, SYS_TIME and the rest: nothing a package's
 * configuration of a tree that is not running needs.
 */
export const SCRIPT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_SETUID',
  'CAP_SETGID',
  'CAP_SETFCAP',
];

/** bwrap arguments (after baseIsolation) that leave only SCRIPT_CAPABILITIES. */
export function scriptCapabilityArgs(): string[] {
  return ['--cap-drop', 'ALL', ...SCRIPT_CAPABILITIES.flatMap((c) => ['--cap-add', c])];
}

/**
 * A read-only view of the tree at `root` (a checkout) as /, built on a tmpfs
 * so that mount points can be made without writing into the checkout:
 * top-level directories bound read-only, top-level symlinks recreated, /etc
 * assembled from `etcEntries` (name -> host path), /var a tmpfs with the
 * dpkg database bound read-only at /var/lib/dpkg.
 */
export function readOnlyTreeArgs(root: string, etcEntries: Map<string, string>): string[] {
  const a = ['--tmpfs', '/'];
  for (const name of readdirSync(root).sort()) {
    if (['etc', 'var', 'tmp', 'run', 'proc', 'dev', 'sys'].includes(name)) continue;
    const p = join(root, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(p), `/${name}`);
    else if (st.isDirectory()) a.push('--ro-bind', p, `/${name}`);
  }
  a.push('--dev', '/dev', '--proc', '/proc', '--perms', '1777', '--tmpfs', '/tmp', '--tmpfs', '/run', '--tmpfs', '/var');
  a.push('--dir', '/var/lib', '--dir', '/var/cache', '--dir', '/var/log');
  a.push('--ro-bind', dpkgDatabaseOf(root), '/var/lib/dpkg');
  if (existsSync(join(root, DEBCONF_CACHE))) a.push('--ro-bind', join(root, DEBCONF_CACHE), '/var/cache/debconf');
  a.push('--tmpfs', '/etc');
  for (const [name, hostPath] of [...etcEntries].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    let st;
    try {
      st = lstatSync(hostPath);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(hostPath), `/etc/${name}`);
    else a.push('--ro-bind', hostPath, `/etc/${name}`);
  }
  return a;
}

/**
 * The entries of /etc for running APT of a tree: the tree's own /usr/etc,
 * with the merge deployment's /etc/apt (its configured sources) when given,
 * and the host's resolv.conf so that mirrors can be named by host name.
 */
export function etcEntriesFor(root: string, deployEtc: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  const usrEtc = join(root, 'usr/etc');
  if (existsSync(usrEtc)) for (const n of readdirSync(usrEtc)) m.set(n, join(usrEtc, n));
  if (deployEtc && existsSync(join(deployEtc, 'apt'))) m.set('apt', join(deployEtc, 'apt'));
  m.delete('resolv.conf');
  if (existsSync('/etc/resolv.conf')) m.set('resolv.conf', realpathSync('/etc/resolv.conf'));
  return m;
}
