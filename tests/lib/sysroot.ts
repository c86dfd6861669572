/**
 * A directory sysroot made by the real `apt-ostree compose sysroot` CLI.
 *
 *   const s = await makeSysroot();                 // from the composed Debian base (tests/lib/base.ts)
 *   const s = await makeSysroot({ source: 'mini' }); // from a tiny hand-made tree (a second, no packages)
 *   ... runCli(['--sysroot', s.path, 'status', '--json']) ...
 *   s.cleanup();
 *
 * 'mini' commits, with the real `ostree`, a tree holding only os-release,
 * /usr/etc and a placeholder kernel and initramfs under /usr/lib/modules/KVER:
 * enough for OSTree to deploy it, for tests of the sysroot itself (status,
 * rollback, kargs, cleanup) that need no packages.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baseRepo, type BaseVariant } from './base';
import { removeTree, runCli, sh, tmpdir } from './env';

export interface SysrootFixture {
  /** The sysroot directory. */
  path: string;
  /** The repository it was composed from. */
  sourceRepo: string;
  ref: string;
  /** Checksum of the first deployment. */
  checksum: string;
  osname: string;
  /** The sysroot's own repository (path/ostree/repo). */
  repo: string;
  /** Remove everything (deployment roots are immutable: chattr -i first). */
  cleanup(): void;
}

export interface SysrootOptions {
  /** 'base' (default): the composed Debian base; 'mini': a tiny hand-made tree. */
  source?: 'base' | 'mini';
  /** Which Debian base (with source 'base'). */
  variant?: BaseVariant;
  stateroot?: string;
  kargs?: string[];
  /** NAME=URL, passed as --remote. */
  remote?: string;
  prefix?: string;
}

export const MINI_REF = 'debian/12/x86_64/mini';
export const MINI_KVER = '6.1.0-test';

/** Commit a tiny deployable tree with the real `ostree` into `repo` (archive mode, created when missing). */
export function commitMiniTree(repo: string, version: string, ref = MINI_REF, metadata: Record<string, string> = {}): string {
  if (!existsSync(join(repo, 'config'))) {
    mkdirSync(repo, { recursive: true });
    sh('ostree', ['init', `--repo=${repo}`, '--mode=archive']);
  }
  const tree = tmpdir('mini-tree');
  try {
    const mod = join(tree, 'usr', 'lib', 'modules', MINI_KVER);
    mkdirSync(mod, { recursive: true });
    mkdirSync(join(tree, 'usr', 'etc'), { recursive: true });
    writeFileSync(join(mod, 'vmlinuz'), `placeholder kernel ${version}\n`);
    writeFileSync(join(mod, 'initramfs.img'), `placeholder initramfs ${version}\n`);
    writeFileSync(join(tree, 'usr', 'lib', 'os-release'), `NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n`);
    writeFileSync(join(tree, 'usr', 'etc', 'hostname'), 'mini\n');
    const args = ['commit', `--repo=${repo}`, `--branch=${ref}`, `--tree=dir=${tree}`, `--add-metadata-string=version=${version}`];
    for (const [k, v] of Object.entries(metadata)) args.push(`--add-metadata-string=${k}=${v}`);
    return sh('ostree', args).trim();
  } finally {
    removeTree(tree);
  }
}

/** Remove a directory that holds sysroots (deployment roots carry the immutable flag). */
export function removeSysrootDir(dir: string): void {
  // Every sysroot under `dir` (the directory itself, or one level down).
  const roots = [dir, ...(existsSync(dir) ? readdirSync(dir).map((n) => join(dir, n)) : [])];
  for (const root of roots) {
    const deployRoot = join(root, 'ostree', 'deploy');
    if (!existsSync(deployRoot)) continue;
    for (const os of readdirSync(deployRoot)) {
      const d = join(deployRoot, os, 'deploy');
      if (!existsSync(d)) continue;
      for (const e of readdirSync(d)) if (!e.endsWith('.origin')) spawnSync('chattr', ['-i', join(d, e)]);
    }
  }
  removeTree(dir);
}

export async function makeSysroot(opts: SysrootOptions = {}): Promise<SysrootFixture> {
  const dir = tmpdir(opts.prefix ?? 'sysroot');
  let sourceRepo: string;
  let ref: string;
  if ((opts.source ?? 'base') === 'mini') {
    sourceRepo = join(dir, 'source-repo');
    ref = MINI_REF;
    commitMiniTree(sourceRepo, '1.0', ref);
  } else {
    const b = await baseRepo(opts.variant ?? 'v1');
    sourceRepo = b.repo;
    ref = b.ref;
  }
  const path = join(dir, 'sysroot');
  const args = ['compose', 'sysroot', '--repo', sourceRepo, '--ref', ref];
  if (opts.stateroot) args.push('--stateroot', opts.stateroot);
  for (const k of opts.kargs ?? []) args.push(`--karg=${k}`);
  if (opts.remote) args.push('--remote', opts.remote);
  args.push(path);
  const r = runCli(args);
  if (r.code !== 0) {
    removeTree(dir);
    throw new Error(`apt-ostree ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const checksum = sh('ostree', ['rev-parse', `--repo=${sourceRepo}`, ref]).trim();
  return {
    path,
    sourceRepo,
    ref,
    checksum,
    osname: opts.stateroot ?? 'debian',
    repo: join(path, 'ostree', 'repo'),
    cleanup: () => removeSysrootDir(dir),
  };
}
