/**
 * APT of a tree, run inside bubblewrap with the tree as its root: metadata
 * refresh, resolution (`apt-get install -s`) and download (`--download-only`),
 * with lists and archives cached in the sysroot (aptCacheDir).
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import { log } from '../log';
import { aptCacheDir } from '../sysroot';
import { hostSources } from '../tree/apt-sources';
import { baseIsolation, readOnlyTreeArgs } from './sandbox';

export interface AptDirs {
  root: string;
  lists: string;
  cache: string;
  archives: string;
}

export function aptDirs(sysrootPath: string): AptDirs {
  const root = aptCacheDir(sysrootPath);
  const d = { root, lists: join(root, 'lists'), cache: join(root, 'cache'), archives: join(root, 'cache', 'archives') };
  for (const p of [d.lists, join(d.lists, 'partial'), d.archives, join(d.archives, 'partial')]) mkdirSync(p, { recursive: true });
  return d;
}

/** The view of a tree that APT runs in. */
export interface AptTree {
  /** Checkout of the tree (read-only use). */
  root: string;
  /** /etc entries (name -> host path), see etcEntriesFor(). */
  etc: Map<string, string>;
  dirs: AptDirs;
}

/** sha256 over the APT sources and configuration of a tree: a change means the lists must be refreshed. */
export function sourcesDigest(t: AptTree): string {
  const h = createHash('sha256');
  const apt = t.etc.get('apt');
  const walk = (dir: string, rel: string): void => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p, `${rel}/${n}`);
      else if (/sources|\.list$|\.sources$|trusted|keyring|\.gpg$|\.asc$/.test(`${rel}/${n}`))
        h.update(`${rel}/${n}\0`).update(readFileSync(p)).update('\0');
    }
  };
  if (apt && existsSync(apt)) walk(apt, 'apt');
  return h.digest('hex');
}

/**
 * Where a host path of a file: source must be bound in the sandbox for APT to
 * reach it at that path: through the tree's own symlinks (in an OSTree tree
 * /srv, /opt, /home... are symlinks into /var, a tmpfs in the sandbox where
 * the mount point can be made).
 */
export function sandboxPathOf(treeRoot: string, path: string): string {
  const parts = path.split('/').filter((x) => x !== '' && x !== '.');
  let out: string[] = [];
  for (let i = 0, hops = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '..') {
      out.pop();
      continue;
    }
    // /var and the other tmpfs of the sandbox: nothing of the tree beyond them.
    if (out.length === 0 && ['var', 'tmp', 'run'].includes(part)) return `/${[...out, ...parts.slice(i)].join('/')}`;
    const st = lstatSync(join(treeRoot, ...out, part), { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && hops++ < 40) {
      const target = readlinkSync(join(treeRoot, ...out, part));
      const rest = parts.slice(i + 1);
      const base = target.startsWith('/') ? [] : out;
      return sandboxPathOf(treeRoot, `/${[...base, target, ...rest].join('/')}`);
    }
    if (!st) return `/${[...out, ...parts.slice(i)].join('/')}`;
    out = [...out, part];
  }
  return `/${out.join('/')}`;
}

/** Host directories of file: and copy: sources, bound read-only where APT looks for them (their path in the tree). */
function fileSourceBinds(t: AptTree): string[] {
  const apt = t.etc.get('apt');
  if (!apt) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of hostSources(apt)) {
    if (!s.uri.startsWith('file:') && !s.uri.startsWith('copy:')) continue;
    let p: string;
    try {
      p = fileURLToPath(s.uri.replace(/^copy:/, 'file:'));
    } catch {
      continue;
    }
    if (!existsSync(p) || seen.has(p)) continue;
    seen.add(p);
    out.push('--ro-bind', realpathSync(p), sandboxPathOf(t.root, p));
  }
  return out;
}

export interface AptRunOptions {
  network: boolean;
  signal?: AbortSignal;
  /** Extra bwrap arguments (e.g. binds of local .deb files). */
  binds?: string[];
  what: string;
  okCodes?: number[];
}

/** Run apt-get (or another APT tool) of the tree. */
export async function runTreeApt(t: AptTree, argv: string[], o: AptRunOptions): Promise<{ stdout: string; stderr: string; code: number }> {
  const args = [
    ...baseIsolation({ network: o.network }),
    ...readOnlyTreeArgs(t.root, t.etc),
    '--dir',
    '/var/lib/apt',
    '--bind',
    t.dirs.lists,
    '/var/lib/apt/lists',
    '--bind',
    t.dirs.cache,
    '/var/cache/apt',
    ...fileSourceBinds(t),
    ...(o.binds ?? []),
    '--',
    ...argv,
    '-o',
    'Debug::NoLocking=1',
    '-o',
    'Dpkg::Use-Pty=0',
    '-o',
    'APT::Color=0',
  ];
  return run('bwrap', args, { errorCode: 'apt', what: o.what, signal: o.signal, okCodes: o.okCodes });
}

const STAMP = 'sources.sha256';

/** True when the cached lists were made from the tree's current sources. */
export function listsAreCurrent(t: AptTree): boolean {
  const f = join(t.dirs.root, STAMP);
  if (!existsSync(f)) return false;
  if (readFileSync(f, 'utf8').trim() !== sourcesDigest(t)) return false;
  return readdirSync(t.dirs.lists).some((n) => n.endsWith('Packages') || n.includes('_Packages'));
}

/** `apt-get update` of the tree into the sysroot's cache. */
export async function aptUpdate(t: AptTree, signal?: AbortSignal): Promise<void> {
  const r = await runTreeApt(t, ['apt-get', 'update', '-q'], {
    network: true,
    signal,
    what: 'refreshing the APT metadata',
    okCodes: [100],
  });
  const errs = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^(E:|Err:)/.test(l));
  if (r.code !== 0 || errs.length > 0) {
    throw new AptOstreeError('network', "refreshing the APT metadata of the deployment's sources failed", {
      details: errs.join('\n') || r.stderr.trim(),
      hint: 'check the sources in /etc/apt of the deployment and the network; "apt-ostree refresh-md" tries again',
    });
  }
  writeFileSync(join(t.dirs.root, STAMP), `${sourcesDigest(t)}\n`);
}

export interface PlanEntry {
  action: 'install' | 'remove';
  name: string;
  version: string;
  arch: string;
  /** Version installed in the base (upgrade/downgrade/remove). */
  oldVersion?: string;
  /** From a local .deb given on the command line. */
  local: boolean;
  /** The archives APT takes it from, as it names them ("Label:Version/Suite, ..."). */
  release?: string;
  /** Taken from a security archive (suite ending in -security, or a Security label). */
  security?: boolean;
  /** SHA256 of the .deb as the archive's index names it (a rebuild of a version changes it). */
  sha256?: string;
}

/** Does APT's release text of a version ("Debian-Security:12/stable-security [amd64]") name a security archive? */
export function isSecurityReleaseText(release: string): boolean {
  // Each archive is "Label-or-Origin:Version/Suite": a -security suite or a Security label (Debian-Security).
  return release.split(/,\s*/).some((r) => /(^|[-_ ])security\b/i.test(r.replace(/\s*\[[^\]]*\]$/, '')));
}

/** Parse the Inst/Remv lines of `apt-get -s`. */
export function parseSimulation(out: string): PlanEntry[] {
  const plan: PlanEntry[] = [];
  for (const line of out.split('\n')) {
    let m = /^Inst (\S+)(?: \[([^\]]+)\])? \((\S+) (.*?)\s*\[([^\]]+)\]\)/.exec(line);
    if (m) {
      const name = m[1]!.replace(/:.*$/, '');
      plan.push({
        action: 'install',
        name,
        oldVersion: m[2],
        version: m[3]!,
        arch: m[5]!,
        local: /local-deb|\bnow\b/.test(m[4]!) && !/\//.test(m[4]!),
        release: m[4]!,
        security: isSecurityReleaseText(m[4]!),
      });
      continue;
    }
    m = /^Remv (\S+)(?: \[([^\]]+)\])?/.exec(line);
    if (m) plan.push({ action: 'remove', name: m[1]!.replace(/:.*$/, ''), version: m[2] ?? '', oldVersion: m[2], arch: '', local: false });
  }
  return plan;
}

export interface ResolveRequest {
  names: string[];
  /** Local .deb files: host paths. */
  localDebs: string[];
  /** Base packages to remove. */
  remove: string[];
  network: boolean;
  signal?: AbortSignal;
}

const LOCAL_DIR = '/run/apt-ostree-local';

function localBinds(debs: string[]): { binds: string[]; args: string[] } {
  const binds: string[] = [];
  const args: string[] = [];
  debs.forEach((p, i) => {
    const inside = `${LOCAL_DIR}/${i}/${p.split('/').pop()}`;
    binds.push('--ro-bind', p, inside);
    args.push(inside);
  });
  return { binds, args };
}

/** Resolve a request against the tree's dpkg database and the cached lists. */
export async function resolve(t: AptTree, req: ResolveRequest): Promise<PlanEntry[]> {
  const local = localBinds(req.localDebs);
  const argv = ['apt-get', 'install', '-s', '-q', '--allow-downgrades', ...req.names, ...local.args, ...req.remove.map((r) => `${r}-`)];
  const r = await runTreeApt(t, argv, {
    network: false,
    signal: req.signal,
    binds: local.binds,
    what: 'resolving the packages',
    okCodes: [100],
  });
  const text = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 0) {
    const unknown = [...text.matchAll(/Unable to locate package (\S+)/g)].map((m) => m[1]!);
    const nocand = [...text.matchAll(/Package '?([^' ]+)'? has no installation candidate/g)].map((m) => m[1]!);
    if (unknown.length > 0 || nocand.length > 0) {
      const names = [...unknown, ...nocand];
      throw new AptOstreeError('not-found', `package${names.length > 1 ? 's' : ''} not found: ${names.join(', ')}`, {
        details: explanation(text),
        hint: 'check the name (apt-cache search inside the system), or run "apt-ostree refresh-md" if the package is new in the archive',
      });
    }
    throw new AptOstreeError('apt', 'the packages cannot be installed: they conflict with the base, or need something no source provides', {
      details: explanation(text),
      hint: "APT's explanation is above: a requested package conflicts with the base, or needs something no source provides",
    });
  }
  const plan = parseSimulation(r.stdout);
  log.debug(`plan: ${plan.map((p) => `${p.action} ${p.name} ${p.version}`).join(', ')}`);
  return plan;
}

/**
 * Set the SHA256 the archive indexes give each planned archive package
 * (apt-cache show of the exact version; the first index naming it wins, as
 * APT downloads from the first source too).
 */
export async function addIndexChecksums(t: AptTree, plan: PlanEntry[], signal?: AbortSignal): Promise<void> {
  const wanted = plan.filter((p) => p.action === 'install' && !p.local);
  if (wanted.length === 0) return;
  const argv = [
    'apt-cache',
    'show',
    '-q',
    ...wanted.map((p) => (p.arch === 'all' ? `${p.name}=${p.version}` : `${p.name}:${p.arch}=${p.version}`)),
  ];
  const r = await runTreeApt(t, argv, { network: false, signal, what: 'reading the checksums of the packages', okCodes: [100] });
  const sums = new Map<string, string>();
  for (const rec of r.stdout.split(/\n\s*\n/)) {
    const f = (k: string): string | undefined => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(rec)?.[1];
    const name = f('Package');
    const sha = f('SHA256');
    if (!name || !sha) continue;
    const key = `${name} ${f('Version')} ${f('Architecture')}`;
    if (!sums.has(key)) sums.set(key, sha);
  }
  for (const p of wanted) p.sha256 = sums.get(`${p.name} ${p.version} ${p.arch}`);
}

/** Ask APT why keeping `keep` installed makes the request impossible (its explanation). */
export async function explainConflict(t: AptTree, req: ResolveRequest, keep: string[]): Promise<string> {
  const local = localBinds(req.localDebs);
  const argv = ['apt-get', 'install', '-s', '-q', ...req.names, ...local.args, ...keep];
  const r = await runTreeApt(t, argv, {
    network: false,
    signal: req.signal,
    binds: local.binds,
    what: 'explaining the conflict',
    okCodes: [100],
  });
  return explanation(`${r.stdout}\n${r.stderr}`);
}

/** The useful part of APT's output: the unmet dependencies block and the errors. */
function explanation(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let inBlock = false;
  for (const l of lines) {
    if (/unmet dependencies/.test(l)) inBlock = true;
    else if (inBlock && !/^\s/.test(l)) inBlock = false;
    if (inBlock || /^\s*E:/.test(l)) out.push(l.replace(/^\s+E:/, 'E:'));
  }
  return (out.length > 0 ? out : lines.filter((l) => /^\s*[EW]:/.test(l))).slice(0, 40).join('\n');
}

/** File name APT gives a downloaded package. */
export function archiveFileName(name: string, version: string, arch: string): string {
  return `${name}_${version.replace(/:/g, '%3a')}_${arch}.deb`;
}

/** Download exact versions into the archives cache (no-op for those already there). */
export async function download(t: AptTree, pkgs: PlanEntry[], opts: { network: boolean; signal?: AbortSignal }): Promise<void> {
  const missing = pkgs.filter((p) => !existsSync(join(t.dirs.archives, archiveFileName(p.name, p.version, p.arch))));
  if (missing.length === 0) return;
  const argv = [
    'apt-get',
    'install',
    '-d',
    '-y',
    '-q',
    '--allow-downgrades',
    '--no-install-recommends',
    // Architecture "all" packages are named without a qualifier.
    ...missing.map((p) => (p.arch === 'all' ? `${p.name}=${p.version}` : `${p.name}:${p.arch}=${p.version}`)),
  ];
  if (opts.network) await runTreeApt(t, argv, { network: true, signal: opts.signal, what: 'downloading the packages' });
  let still = missing.filter((p) => !existsSync(join(t.dirs.archives, archiveFileName(p.name, p.version, p.arch))));
  if (still.length > 0) {
    // APT leaves packages of file: sources where they are instead of copying them into the
    // archives; ask it where they are and copy them in, checked. A local archive needs no
    // network, so this is done with --cache-only too.
    const uris = await runTreeApt(
      t,
      argv.map((a) => (a === '-d' ? '--print-uris' : a === '-q' ? '-qq' : a)),
      {
        network: false,
        signal: opts.signal,
        what: 'locating the packages of file: sources',
      },
    );
    copyFileSourcePackages(uris.stdout, t.dirs.archives);
    still = still.filter((p) => !existsSync(join(t.dirs.archives, archiveFileName(p.name, p.version, p.arch))));
  }
  if (still.length > 0) {
    const list = still.map((p) => `${p.name} ${p.version}`).join(', ');
    if (!opts.network) throw new AptOstreeError('apt', `not in the cache: ${list}`, { hint: 'run without --cache-only to download them' });
    throw new AptOstreeError('apt', `APT did not download ${still.map((p) => `${p.name}_${p.version}_${p.arch}`).join(', ')}`);
  }
}

/**
 * Copy the packages that `apt-get --print-uris` names with file: URIs into
 * the archives directory, under APT's name, after checking their checksum.
 */
function copyFileSourcePackages(printUris: string, archives: string): void {
  for (const line of printUris.split('\n')) {
    const m = /^'(file:[^']+)' (\S+\.deb) \d+ (\w+):([0-9a-f]+)$/.exec(line.trim());
    if (!m) continue;
    const src = fileURLToPath(m[1]!);
    const algo = m[3]!.toLowerCase().replace('md5sum', 'md5');
    const data = readFileSync(src);
    const sum = createHash(algo).update(data).digest('hex');
    if (sum !== m[4]) {
      throw new AptOstreeError('apt', `${src} does not match the checksum its archive index gives (${m[3]})`, {
        hint: 'the file: archive changed after its index was read: run "apt-ostree refresh-md"',
      });
    }
    const dest = join(archives, m[2]!);
    writeFileSync(`${dest}.partial`, data);
    renameSync(`${dest}.partial`, dest);
  }
}
