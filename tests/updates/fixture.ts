/**
 * The served side of the update tests: an archive repository (scratch copy of
 * the cached v2 base, with its whole history: v1 then v2) plus extra refs made
 * from those trees without any checkout, served over loopback HTTP by
 * tests/lib/http-repo.ts; and sysroots at v1 following it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseRepo, BASE_REF, type BaseRepo } from '../lib/base';
import { CLI, sh, tmpdir } from '../lib/env';
import { runAsync, serveDirectory, type RepoServer } from '../lib/http-repo';
import { removeSysrootDir } from '../lib/sysroot';

export const OTHER_REF = 'debian/bookworm/test-other';

export interface Served {
  dir: string;
  repo: string;
  v1: string;
  v2: string;
  base: BaseRepo;
  server: RepoServer;
  /** Make a commit on `ref` with the tree (and package list) of `from`; returns its checksum. */
  commitLike(ref: string, from: string, version: string, opts?: { parent?: string; gpg?: Gpg }): string;
  summary(): void;
  close(): Promise<void>;
}

export interface Gpg {
  home: string;
  keyId: string;
  publicKeyFile: string;
}

export function makeGpgKey(dir: string, name: string): Gpg {
  const home = join(dir, `gnupg-${name}`);
  mkdirSync(home, { mode: 0o700 });
  sh('gpg', [
    '--homedir',
    home,
    '--batch',
    '--passphrase',
    '',
    '--quick-gen-key',
    `apt-ostree test ${name} <${name}@test.invalid>`,
    'ed25519',
    'sign',
    'never',
  ]);
  const colons = sh('gpg', ['--homedir', home, '--list-keys', '--with-colons']);
  const fpr = /^fpr:+([0-9A-F]+):/m.exec(colons)?.[1];
  if (!fpr) throw new Error('no gpg key made');
  const publicKeyFile = join(dir, `${name}.asc`);
  writeFileSync(publicKeyFile, sh('gpg', ['--homedir', home, '--export', '--armor', fpr]));
  return { home, keyId: fpr, publicKeyFile };
}

export function killGpgAgent(g: Gpg): void {
  spawnSync('gpgconf', ['--homedir', g.home, '--kill', 'gpg-agent']);
}

export async function serveBase(prefix: string): Promise<Served> {
  const base = await baseRepo('v2');
  const dir = tmpdir(prefix);
  const repo = join(dir, 'srv');
  sh('ostree', ['init', `--repo=${repo}`, '--mode=archive']);
  sh('ostree', ['pull-local', `--repo=${repo}`, '--depth=-1', base.repo, BASE_REF]);
  const v2 = base.checksum;
  const v1 = base.previous!;
  const server = await serveDirectory(repo);
  const served: Served = {
    dir,
    repo,
    v1,
    v2,
    base,
    server,
    commitLike(ref, from, version, opts = {}) {
      const pk = sh('ostree', ['show', `--repo=${repo}`, '--print-metadata-key=aptostree.packages', from]).trim();
      // GVariant text of a string: '...'; the JSON inside has no single quotes.
      const json = pk.replace(/^'/, '').replace(/'$/, '');
      const args = [
        'commit',
        `--repo=${repo}`,
        `--branch=${ref}`,
        `--tree=ref=${from}`,
        `--add-metadata-string=version=${version}`,
        `--add-metadata-string=aptostree.packages=${json}`,
        `--subject=${ref} ${version}`,
      ];
      if (opts.parent) args.push(`--parent=${opts.parent}`);
      if (opts.gpg) args.push(`--gpg-sign=${opts.gpg.keyId}`, `--gpg-homedir=${opts.gpg.home}`);
      const c = sh('ostree', args).trim();
      served.summary();
      return c;
    },
    summary() {
      sh('ostree', ['summary', '-u', `--repo=${repo}`]);
    },
    async close() {
      await server.close();
      removeSysrootDir(dir);
    },
  };
  served.summary();
  return served;
}

/** A new sysroot deployed at v1 (from the local cached repo), following `url` as remote "origin". */
export async function sysrootAtV1(served: Served, name: string, extra: string[] = []): Promise<string> {
  const path = join(served.dir, name);
  const v1repo = join(served.dir, 'v1-only');
  // compose sysroot copies the ref from a local repository: give it one whose ref is v1.
  if (!existsSync(v1repo)) {
    sh('ostree', ['init', `--repo=${v1repo}`, '--mode=archive']);
    sh('ostree', ['pull-local', `--repo=${v1repo}`, served.repo, served.v1]);
    sh('ostree', ['refs', `--repo=${v1repo}`, '--create', BASE_REF, served.v1]);
  }
  const r = await runAsync(
    process.execPath,
    [CLI, 'compose', 'sysroot', path, '--repo', v1repo, '--ref', BASE_REF, '--remote', `origin=${served.server.url}`, ...extra],
    { env: { ...process.env, APT_OSTREE_DIRECT: '1' } },
  );
  if (r.code !== 0) throw new Error(`compose sysroot failed: ${r.stderr}`);
  return path;
}

/** Paths (relative to the archive repo) of the objects of a commit: commit, dirtrees, dirmetas, files. */
export function objectsOf(repo: string, rev: string): Set<string> {
  const csum = sh('ostree', ['rev-parse', `--repo=${repo}`, rev]).trim();
  const out = new Set<string>();
  const obj = (c: string, ext: string): string => `objects/${c.slice(0, 2)}/${c.slice(2)}.${ext}`;
  out.add(obj(csum, 'commit'));
  if (existsSync(join(repo, obj(csum, 'commitmeta')))) out.add(obj(csum, 'commitmeta'));
  const text = sh('ostree', ['ls', `--repo=${repo}`, '-R', '-C', csum]);
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    if (line.startsWith('d')) {
      out.add(obj(f[4]!, 'dirtree'));
      out.add(obj(f[5]!, 'dirmeta'));
    } else {
      out.add(obj(f[4]!, 'filez'));
    }
  }
  return out;
}

/** Total size in the archive repo of the objects of `to` that `from` does not have. */
export function changedObjectBytes(repo: string, from: string, to: string): { bytes: number; count: number } {
  const a = objectsOf(repo, from);
  let bytes = 0;
  let count = 0;
  for (const p of objectsOf(repo, to)) {
    if (a.has(p)) continue;
    count++;
    bytes += statSync(join(repo, p)).size;
  }
  return { bytes, count };
}
