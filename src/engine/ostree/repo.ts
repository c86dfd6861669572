/**
 * OSTree repositories through the `ostree` command: create, commit, resolve
 * refs, check out; commit metadata is read through the addon (./native.ts),
 * which gives typed values. Shared by compose, layering, updates.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import { META_PACKAGES, parsePackageList, type PackageRecord } from './metadata';
import { commitInfo } from './native';

export type RepoMode = 'archive' | 'bare' | 'bare-user' | 'bare-user-only';

/** True when `repo` is an initialized OSTree repository. */
export function isRepo(repo: string): boolean {
  return existsSync(join(repo, 'config')) && existsSync(join(repo, 'objects'));
}

/**
 * Make sure `repo` is an OSTree repository, creating it (in `mode`) when the
 * path does not exist. A path that is a file, or a non-empty directory that
 * is no repository, is an error. Returns true when it was created.
 */
export async function initRepo(repo: string, mode: RepoMode = 'archive'): Promise<boolean> {
  if (existsSync(repo)) {
    const st = statSync(repo);
    if (!st.isDirectory()) {
      throw new AptOstreeError('usage', `repository path ${repo} is a file, not a directory`, {
        hint: 'give --repo the path of an OSTree repository, or of a directory to create',
      });
    }
    if (isRepo(repo)) return false;
    if (readdirSync(repo).length > 0) {
      throw new AptOstreeError('usage', `${repo} is a non-empty directory that is not an OSTree repository`, {
        hint: 'give an existing repository, or a path that does not exist yet',
      });
    }
  }
  await run('ostree', ['init', `--repo=${repo}`, `--mode=${mode}`], { errorCode: 'ostree', what: `creating the repository ${repo}` });
  return true;
}

/**
 * Checksum of a ref or revision (checksum, ref, remote:ref, REV^), or
 * undefined when the repository has no such thing. A revision that is empty,
 * could pass for an option or has blanks is refused as a usage error.
 */
export async function revParse(repo: string, rev: string, opts: { signal?: AbortSignal } = {}): Promise<string | undefined> {
  if (rev === '' || rev.startsWith('-') || /[\s\0]/.test(rev)) {
    throw new AptOstreeError('usage', `invalid revision ${JSON.stringify(rev)}`);
  }
  const r = await run('ostree', ['rev-parse', `--repo=${repo}`, rev], {
    okCodes: [1],
    errorCode: 'ostree',
    what: `resolving ${rev}`,
    signal: opts.signal,
  });
  if (r.code !== 0) return undefined;
  const c = r.stdout.trim();
  return /^[0-9a-f]{64}$/.test(c) ? c : undefined;
}

/** The refs of a repository (local ones and remote:ref ones), sorted. */
export async function listRefs(repo: string): Promise<string[]> {
  const r = await run('ostree', ['refs', `--repo=${repo}`], { errorCode: 'ostree', what: `listing the refs of ${repo}` });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort();
}

/**
 * One metadata value of a commit as a string, or undefined when the key is
 * absent: strings as they are, other values as their text (lists as JSON).
 */
export async function readCommitMetadataString(repo: string, rev: string, key: string): Promise<string | undefined> {
  const v = commitInfo(repo, rev).metadata[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/** The installed packages recorded in a commit's metadata (META_PACKAGES), [] when absent. */
export async function readPackages(repo: string, rev: string): Promise<PackageRecord[]> {
  const s = await readCommitMetadataString(repo, rev, META_PACKAGES);
  if (s === undefined) return [];
  return parsePackageList(s, `${rev} in ${repo}`);
}

/** Encode packages for META_PACKAGES: sorted by name, then architecture. */
export function packagesJson(pkgs: readonly PackageRecord[]): string {
  const sorted = [...pkgs].sort((a, b) =>
    a.name === b.name ? (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0) : a.name < b.name ? -1 : 1,
  );
  return JSON.stringify(sorted.map((p) => [p.name, p.version, p.arch]));
}

export interface CommitOptions {
  repo: string;
  /** Branch to update (omit for an orphan commit). */
  branch?: string;
  /** What to commit: a directory or a ref/checksum. */
  tree: { dir: string } | { ref: string };
  subject?: string;
  body?: string;
  /** Parent checksum, 'none', or undefined (= the branch's current head). */
  parent?: string;
  /** String metadata (key -> value). */
  metadata?: Record<string, string>;
  /** Metadata keys to carry over from the parent. */
  keepMetadata?: string[];
  /** Faster commits of hardlink checkouts from the same repo. */
  linkCheckoutSpeedup?: boolean;
  /** Delete the directory's content as it is committed. */
  consume?: boolean;
  /** Do not write ref bindings into the commit. */
  noBindings?: boolean;
  /** Files with xattrs are recorded without them (needed for some trees). */
  noXattrs?: boolean;
  /** Commit timestamp (any date `ostree commit --timestamp` accepts). */
  timestamp?: string;
  gpgSign?: { keyId: string; homedir?: string };
  /** fsync policy; default ostree's. */
  fsync?: boolean;
  /** Extra ostree commit arguments. */
  extraArgs?: string[];
  signal?: AbortSignal;
}

/** `ostree commit`: returns the new commit's checksum. */
export async function commitTree(o: CommitOptions): Promise<string> {
  const args = ['commit', `--repo=${o.repo}`];
  if (o.branch !== undefined) args.push(`--branch=${o.branch}`);
  else args.push('--orphan');
  if ('dir' in o.tree) args.push(`--tree=dir=${o.tree.dir}`);
  else args.push(`--tree=ref=${o.tree.ref}`);
  args.push(`--subject=${o.subject ?? ''}`);
  if (o.body !== undefined) args.push(`--body=${o.body}`);
  if (o.parent !== undefined) args.push(`--parent=${o.parent}`);
  for (const [k, v] of Object.entries(o.metadata ?? {})) args.push(`--add-metadata-string=${k}=${v}`);
  for (const k of o.keepMetadata ?? []) args.push(`--keep-metadata=${k}`);
  if (o.linkCheckoutSpeedup) args.push('--link-checkout-speedup');
  if (o.consume) args.push('--consume');
  if (o.noBindings) args.push('--no-bindings');
  if (o.noXattrs) args.push('--no-xattrs');
  if (o.timestamp !== undefined) args.push(`--timestamp=${o.timestamp}`);
  if (o.gpgSign) {
    args.push(`--gpg-sign=${o.gpgSign.keyId}`);
    if (o.gpgSign.homedir) args.push(`--gpg-homedir=${o.gpgSign.homedir}`);
  }
  if (o.fsync === false) args.push('--fsync=false');
  args.push(...(o.extraArgs ?? []));
  const r = await run('ostree', args, { errorCode: 'ostree', what: `committing to ${o.repo}`, signal: o.signal });
  const c = r.stdout.trim().split('\n').pop() ?? '';
  if (!/^[0-9a-f]{64}$/.test(c)) throw new AptOstreeError('ostree', `ostree commit printed no checksum: ${r.stdout.trim()}`);
  return c;
}

/** `ostree checkout -H` (hardlinks; repo and dest on one filesystem, bare/bare-user repo). */
export async function checkoutHardlinks(
  repo: string,
  rev: string,
  dest: string,
  opts: { subpath?: string; unionFiles?: boolean; signal?: AbortSignal } = {},
): Promise<void> {
  const args = ['checkout', `--repo=${repo}`, '-H'];
  if (opts.subpath) args.push(`--subpath=${opts.subpath}`);
  if (opts.unionFiles) args.push('--union-files');
  args.push(rev, dest);
  await run('ostree', args, { errorCode: 'ostree', what: `checking out ${rev}`, signal: opts.signal });
}

/** `ostree checkout` (copies; works from any repo mode). */
export async function checkout(
  repo: string,
  rev: string,
  dest: string,
  opts: { subpath?: string; signal?: AbortSignal } = {},
): Promise<void> {
  const args = ['checkout', `--repo=${repo}`];
  if (opts.subpath) args.push(`--subpath=${opts.subpath}`);
  args.push(rev, dest);
  await run('ostree', args, { errorCode: 'ostree', what: `checking out ${rev}`, signal: opts.signal });
}

export interface SummaryOptions {
  gpgSign?: { keyId: string; homedir?: string };
  /** ed25519 secret key (base64), for `ostree summary --sign`. */
  ed25519SecretKey?: string;
}

/** `ostree summary -u`, signed when a key is given. */
export async function updateSummary(repo: string, o: SummaryOptions = {}): Promise<void> {
  const args = ['summary', `--repo=${repo}`, '-u'];
  if (o.gpgSign) {
    args.push(`--gpg-sign=${o.gpgSign.keyId}`);
    if (o.gpgSign.homedir) args.push(`--gpg-homedir=${o.gpgSign.homedir}`);
  }
  if (o.ed25519SecretKey !== undefined) args.push('--sign-type=ed25519', `--sign=${o.ed25519SecretKey}`);
  await run('ostree', args, { errorCode: 'ostree', what: `updating the summary of ${repo}` });
}

/** Parent of a commit, or undefined for a root commit. */
export async function commitParent(repo: string, rev: string): Promise<string | undefined> {
  return revParse(repo, `${rev}^`);
}
