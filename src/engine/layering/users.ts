/**
 * System users and groups that layered packages create (adduser/useradd in a
 * postinst write the tree's /usr/etc/passwd and group).
 *
 * OSTree's 3-way /etc merge keeps a deployment's locally modified
 * /etc/passwd as it is, so a user added to /usr/etc/passwd by a layered
 * package would be lost on a system whose /etc/passwd was ever changed.
 * The Debian way to declare system users to a read-only /usr is
 * systemd-sysusers: apt-ostree writes the users and groups that the layered
 * packages added to /usr/lib/sysusers.d/apt-ostree-layered.conf (with their
 * uid/gid, so that files owned by them match), and systemd-sysusers.service
 * creates them in /etc at boot. A deployment written directly (not staged)
 * gets the missing entries merged into its /etc right away (mergeUsersIntoEtc).
 */
import { existsSync, readFileSync, writeFileSync, mkdirSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';

export const SYSUSERS_CONF = 'usr/lib/sysusers.d/apt-ostree-layered.conf';

export interface IdTables {
  passwd: string[];
  group: string[];
}

function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

export function readIdTables(etcDir: string): IdTables {
  return { passwd: lines(join(etcDir, 'passwd')), group: lines(join(etcDir, 'group')) };
}

const nameOf = (l: string): string => l.split(':')[0]!;

/** Entries of `after` whose names `before` does not have. */
export function addedEntries(before: IdTables, after: IdTables): IdTables {
  const bp = new Set(before.passwd.map(nameOf));
  const bg = new Set(before.group.map(nameOf));
  return { passwd: after.passwd.filter((l) => !bp.has(nameOf(l))), group: after.group.filter((l) => !bg.has(nameOf(l))) };
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** sysusers.d lines for the added entries. */
export function sysusersLines(added: IdTables): string[] {
  const out: string[] = [];
  const userNames = new Set(added.passwd.map(nameOf));
  for (const g of added.group) {
    const [name, , gid] = g.split(':');
    if (name && gid && !userNames.has(name)) out.push(`g ${name} ${gid}`);
  }
  for (const p of added.passwd) {
    const [name, , uid, gid, gecos, home, shell] = p.split(':');
    if (!name || !uid || !gid) continue;
    out.push(`u ${name} ${uid}:${gid} ${quote(gecos || '-')} ${home || '-'} ${shell || '-'}`);
  }
  return out;
}

/** Write the sysusers.d snippet into the tree at `root` (no-op when nothing was added). */
export function writeSysusers(root: string, added: IdTables): void {
  const l = sysusersLines(added);
  if (l.length === 0) return;
  mkdirSync(join(root, 'usr/lib/sysusers.d'), { recursive: true });
  writeFileSync(join(root, SYSUSERS_CONF), `# Users and groups created by packages layered by apt-ostree.\n${l.join('\n')}\n`, {
    mode: 0o644,
  });
}

/**
 * Add to `etcDir` (a new deployment's /etc) the users and groups that
 * `usrEtcDir` (its /usr/etc) has and that are named in the tree's
 * sysusers.d snippet, when the /etc merge left them out. Shadow entries get
 * a locked password.
 */
export function mergeUsersIntoEtc(root: string): string[] {
  const conf = join(root, SYSUSERS_CONF);
  if (!existsSync(conf)) return [];
  const wanted = new Set(
    readFileSync(conf, 'utf8')
      .split('\n')
      .filter((l) => /^[ug] /.test(l))
      .map((l) => l.split(/\s+/)[1]!),
  );
  const usr = readIdTables(join(root, 'usr/etc'));
  const etc = readIdTables(join(root, 'etc'));
  const missing = addedEntries(etc, usr);
  const merged: string[] = [];
  const add = (file: string, entries: string[], shadow: (name: string) => string): void => {
    const sel = entries.filter((l) => wanted.has(nameOf(l)));
    if (sel.length === 0) return;
    appendFileSync(join(root, 'etc', file), `${sel.join('\n')}\n`);
    const sfile = join(root, 'etc', file === 'passwd' ? 'shadow' : 'gshadow');
    if (existsSync(sfile)) {
      const have = new Set(lines(sfile).map(nameOf));
      const add2 = sel
        .map(nameOf)
        .filter((n) => !have.has(n))
        .map(shadow);
      if (add2.length > 0) appendFileSync(sfile, `${add2.join('\n')}\n`);
    }
    merged.push(...sel.map(nameOf));
  };
  add('group', missing.group, (n) => `${n}:!::`);
  add('passwd', missing.passwd, (n) => `${n}:!*:${Math.floor(Date.now() / 86400000)}::::::`);
  return merged;
}
