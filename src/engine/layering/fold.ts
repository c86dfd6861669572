/**
 * Folding an overlayfs upper directory into the checkout that was its lower
 * layer: whiteouts (character devices 0:0) delete, opaque directories
 * replace, everything else is renamed in. Renaming over a hardlinked file
 * replaces the directory entry only, so the repository object it shared is
 * never written.
 */
import { chmodSync, existsSync, lchownSync, lstatSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from '../exec';

/** Paths (relative) that carry xattrs named trusted.overlay.*, with those names. */
async function overlayXattrs(upper: string): Promise<Map<string, string[]>> {
  const r = await run('getfattr', ['-R', '-P', '--absolute-names', '-m', '^trusted\\.overlay\\.', upper], {
    okCodes: [1],
    what: 'reading overlay attributes',
  });
  const out = new Map<string, string[]>();
  let file: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      file = unescapeGetfattr(line.slice('# file: '.length));
      continue;
    }
    const name = line.trim();
    if (file && name.startsWith('trusted.overlay.')) out.set(file, [...(out.get(file) ?? []), name]);
  }
  return out;
}

/** getfattr escapes unusual bytes in file names as \ooo (octal). */
function unescapeGetfattr(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Remove mount points that bubblewrap made in the upper directory for paths
 * the tree does not have (e.g. /etc, /var/lib/dpkg): empty directories and
 * empty files, and the empty parents made with them.
 */
export function dropMountpoints(upper: string, lower: string, relPaths: string[]): void {
  for (const rel of relPaths) {
    let r = rel.replace(/^\/+/, '');
    while (r !== '' && r !== '.') {
      const u = join(upper, r);
      if (existsSync(join(lower, r))) break;
      let st;
      try {
        st = lstatSync(u);
      } catch {
        break;
      }
      if (st.isDirectory()) {
        if (readdirSync(u).length > 0) break;
        rmdirSync(u);
      } else if (st.isFile() && st.size === 0) rmSync(u);
      else break;
      r = dirname(r);
    }
  }
}

export interface FoldStats {
  added: number;
  deleted: number;
}

/** Fold `upper` into `target` (the overlay's lower checkout). */
export async function foldUpper(upper: string, target: string): Promise<FoldStats> {
  const xattrs = await overlayXattrs(upper);
  const opaque = new Set<string>();
  const byName = new Map<string, string[]>();
  for (const [file, names] of xattrs) {
    if (names.includes('trusted.overlay.opaque')) opaque.add(file);
    for (const n of names) byName.set(n, [...(byName.get(n) ?? []), file]);
  }
  // No overlay bookkeeping may end up in a commit.
  for (const [name, files] of byName) {
    for (let i = 0; i < files.length; i += 200) {
      await run('setfattr', ['-h', '-x', name, '--', ...files.slice(i, i + 200)], { what: 'removing overlay attributes' });
    }
  }
  const stats: FoldStats = { added: 0, deleted: 0 };
  const merge = (rel: string): void => {
    const udir = join(upper, rel);
    for (const name of readdirSync(udir)) {
      const u = join(udir, name);
      const t = join(target, rel, name);
      const st = lstatSync(u);
      const tst = lstatSync(t, { throwIfNoEntry: false });
      if (st.isCharacterDevice() && st.rdev === 0) {
        if (tst) rmSync(t, { recursive: true, force: true });
        stats.deleted++;
        continue;
      }
      if (st.isDirectory()) {
        if (!opaque.has(u) && tst?.isDirectory()) {
          if ((tst.mode & 0o7777) !== (st.mode & 0o7777)) chmodSync(t, st.mode & 0o7777);
          if (tst.uid !== st.uid || tst.gid !== st.gid) lchownSync(t, st.uid, st.gid);
          merge(join(rel, name));
          continue;
        }
        if (tst) rmSync(t, { recursive: true, force: true });
        renameSync(u, t);
        stats.added++;
        continue;
      }
      if (tst?.isDirectory()) rmSync(t, { recursive: true, force: true });
      renameSync(u, t);
      stats.added++;
    }
  };
  merge('');
  return stats;
}
