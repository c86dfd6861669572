/**
 * OSTree repositories through the `ostree` command: create, commit, read
 * refs and commit metadata, check out. Shared by compose, layering, updates.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import { META_PACKAGES, type PackageRecord } from './metadata';

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

/** Checksum of a ref or revision, or undefined when it does not exist. */
export async function revParse(repo: string, rev: string): Promise<string | undefined> {
  const r = await run('ostree', ['rev-parse', `--repo=${repo}`, rev], { okCodes: [1], errorCode: 'ostree', what: `resolving ${rev}` });
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
 * absent. Strings come back unquoted; other GVariant types as their text.
 */
export async function readCommitMetadataString(repo: string, rev: string, key: string): Promise<string | undefined> {
  const r = await run('ostree', ['show', `--repo=${repo}`, `--print-metadata-key=${key}`, rev], {
    okCodes: [1],
    errorCode: 'ostree',
    what: `reading ${key} of ${rev}`,
  });
  if (r.code !== 0) {
    if (/No such metadata key|not found/i.test(r.stderr)) return undefined;
    throw new AptOstreeError('ostree', `cannot read metadata ${key} of ${rev} in ${repo}`, { details: r.stderr.trim() });
  }
  return parseGVariantText(r.stdout.trim());
}

/**
 * Parse GVariant text as printed by ostree (g_variant_print): a string
 * literal ('...' or "..."), possibly wrapped as <...> or typed "@s '...'".
 * Anything else is returned as printed.
 */
export function parseGVariantText(text: string): string {
  let t = text.trim();
  if (t.startsWith('<') && t.endsWith('>')) t = t.slice(1, -1).trim();
  if (t.startsWith('@s ')) t = t.slice(3).trim();
  const q = t[0];
  if ((q !== "'" && q !== '"') || t.length < 2 || t[t.length - 1] !== q) return t;
  let out = '';
  for (let i = 1; i < t.length - 1; i++) {
    const c = t[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = t[++i];
    switch (n) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case 'a':
        out += '\x07';
        break;
      case 'u':
        out += String.fromCodePoint(parseInt(t.slice(i + 1, i + 5), 16));
        i += 4;
        break;
      case 'U':
        out += String.fromCodePoint(parseInt(t.slice(i + 1, i + 9), 16));
        i += 8;
        break;
      default:
        if (n !== undefined && /[0-7]/.test(n)) {
          let oct = n;
          while (oct.length < 3 && /[0-7]/.test(t[i + 1] ?? '')) oct += t[++i];
          out += String.fromCharCode(parseInt(oct, 8));
        } else {
          out += n ?? '';
        }
    }
  }
  return out;
}

/** The installed packages recorded in a commit's metadata (META_PACKAGES), [] when absent. */
export async function readPackages(repo: string, rev: string): Promise<PackageRecord[]> {
  const s = await readCommitMetadataString(repo, rev, META_PACKAGES);
  if (s === undefined) return [];
  return parsePackagesJson(s, `${rev} in ${repo}`);
}

export function parsePackagesJson(s: string, what: string): PackageRecord[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new AptOstreeError('ostree', `the package list of ${what} is not valid JSON`);
  }
  if (!Array.isArray(v)) throw new AptOstreeError('ostree', `the package list of ${what} is not a list`);
  return v.map((e: unknown) => {
    if (!Array.isArray(e) || e.length !== 3 || !e.every((x) => typeof x === 'string')) {
      throw new AptOstreeError('ostree', `the package list of ${what} has a malformed entry`);
    }
    const [name, version, arch] = e as [string, string, string];
    return { name, version, arch };
  });
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
