/**
 * The sysroot model: an OSTree sysroot (a disk's root, or "/" on the booted
 * system) with its deployments in boot order, what each one was made from
 * (its origin file and base commit) and its kernel arguments. Reads through
 * the native addon (./ostree/native.ts); writes a new deployment with the
 * `ostree` command (./ostree/admin.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  ftruncateSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AptOstreeError, CancelledError } from './errors';
import { run } from './exec';
import { parseOrigin, serializeOrigin, type Origin } from './origin';
import { META_BASE_CHECKSUM, META_CLIENT_LAYER, META_VERSION } from './ostree/metadata';
import * as admin from './ostree/admin';
import * as native from './ostree/native';
import { revParse } from './ostree/repo';
import type { NativeCommitInfo, NativeDeployment } from './ostree/native';
import type { OperationContext } from './operations/types';

export interface Deployment {
  /** Position in boot order (0 = first boot entry). */
  index: number;
  osname: string;
  checksum: string;
  serial: number;
  booted: boolean;
  staged: boolean;
  pinned: boolean;
  isDefault: boolean;
  isRollback: boolean;
  /** Parsed origin file, when the deployment has a readable one. */
  origin?: Origin;
  /** Why the origin file could not be read, when it could not. */
  originError?: string;
  /** META_BASE_CHECKSUM of a client-layered commit, else checksum. */
  baseChecksum: string;
  /** Of the base commit. */
  version?: string;
  /** Of the base commit, seconds since the epoch. */
  timestamp: number;
  /** Kernel arguments, from the boot entry's "options" (without OSTree's own ostree=). */
  kargs: string[];
  /** Absolute path of the deployment's root. */
  deployPath: string;
  /** Absolute path of its origin file. */
  originPath: string;
  bootserial: number;
  bootcsum: string;
  /** The boot entry's other keys (linux, initrd, title, version). */
  bootconfig: Record<string, string>;
  /** Metadata of the deployment's own commit (layered or base). */
  commitMetadata: NativeCommitInfo['metadata'];
}

export interface Sysroot {
  /** Absolute path. */
  path: string;
  /** path/ostree/repo */
  repoPath: string;
  /** In boot order. */
  deployments: Deployment[];
  booted?: Deployment;
  /** The first deployment (what boots next). */
  defaultDeployment?: Deployment;
  /** What `rollback` would make the default. */
  rollback?: Deployment;
  staged?: Deployment;
}

/** Under the sysroot: the APT metadata cache of layering (removed by `cleanup -m`). */
export const APT_CACHE_SUBDIR = 'var/cache/apt-ostree';

export function aptCacheDir(sysrootPath: string): string {
  return join(resolve(sysrootPath), APT_CACHE_SUBDIR);
}

function assertSysroot(path: string): void {
  const notOne = (why: string): AptOstreeError =>
    new AptOstreeError('not-a-sysroot', `${path} is not an OSTree sysroot: ${why}`, {
      hint: 'pass --sysroot (or APT_OSTREE_SYSROOT) the directory of a sysroot, e.g. one made by "apt-ostree compose sysroot"',
    });
  let st;
  try {
    st = statSync(path);
  } catch {
    throw notOne('no such directory');
  }
  if (!st.isDirectory()) throw notOne('not a directory');
  if (!existsSync(join(path, 'ostree', 'repo', 'config'))) throw notOne('it has no ostree/repo');
  if (!existsSync(join(path, 'ostree', 'deploy'))) throw notOne('it has no ostree/deploy');
}

/** Split a kernel command line into arguments; double quotes protect spaces (and are kept). */
export function parseKargs(options: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (const ch of options) {
    if (ch === '"') {
      quoted = !quoted;
      cur += ch;
      has = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

function commitInfoOrUndefined(repo: string, rev: string): NativeCommitInfo | undefined {
  try {
    return native.commitInfo(repo, rev);
  } catch {
    return undefined;
  }
}

/** Load the sysroot at `path`. AptOstreeError 'not-a-sysroot' when it is not one. */
export async function loadSysroot(path: string): Promise<Sysroot> {
  const abs = resolve(path);
  assertSysroot(abs);
  const repoPath = join(abs, 'ostree', 'repo');
  const raw = native.listDeployments(abs);
  const deployments = raw.map((d) => toDeployment(d, repoPath));
  markBootedForTests(abs, deployments);
  const booted = deployments.find((d) => d.booted);
  const staged = deployments.find((d) => d.staged);
  const defaultDeployment = deployments[0];
  const rollback = findRollback(deployments, booted, defaultDeployment);
  for (const d of deployments) {
    d.isDefault = d === defaultDeployment;
    d.isRollback = d === rollback;
  }
  return { path: abs, repoPath, deployments, booted, defaultDeployment, rollback, staged };
}

/**
 * For tests: a directory sysroot is never booted, so a test marks one of its
 * deployments as the booted one with the environment variable
 * APT_OSTREE_TEST_BOOTED_DEPLOYMENT=CHECKSUM.SERIAL. It is honoured only for a
 * sysroot other than "/" and only when libostree itself found no booted
 * deployment, so it can never mislead a real system. Note that such a sysroot
 * then counts as booted everywhere (writeNewDeployment would stage), so tests
 * that mark a sysroot booted only read it.
 */
export const TEST_BOOTED_ENV = 'APT_OSTREE_TEST_BOOTED_DEPLOYMENT';

function markBootedForTests(abs: string, ds: Deployment[]): void {
  const want = process.env[TEST_BOOTED_ENV];
  if (want === undefined || want === '' || abs === '/' || ds.some((d) => d.booted)) return;
  const d = ds.find((x) => `${x.checksum}.${x.serial}` === want);
  if (d) d.booted = true;
}

/**
 * The deployment a rollback makes the default: on a booted system, the booted
 * one when something is queued before it, otherwise the first one after it;
 * on a sysroot that is not booted, the next one of the default's stateroot.
 */
function findRollback(ds: Deployment[], booted: Deployment | undefined, def: Deployment | undefined): Deployment | undefined {
  if (!def) return undefined;
  if (booted) {
    if (booted !== def) return booted.staged ? undefined : booted;
    return ds.find((d) => d.index > booted.index && d.osname === booted.osname);
  }
  return ds.find((d) => d.index > def.index && d.osname === def.osname && !d.staged);
}

function toDeployment(d: NativeDeployment, repoPath: string): Deployment {
  let origin: Origin | undefined;
  let originError: string | undefined;
  if (existsSync(d.originPath)) {
    try {
      origin = parseOrigin(readFileSync(d.originPath, 'utf8'), d.originPath);
    } catch (e) {
      originError = (e as Error).message;
    }
  } else {
    originError = `no origin file ${d.originPath}`;
  }
  const own = commitInfoOrUndefined(repoPath, d.csum);
  const layered = own?.metadata[META_CLIENT_LAYER];
  const baseRaw = own?.metadata[META_BASE_CHECKSUM];
  const isLayered = (layered === 'true' || layered === true) && typeof baseRaw === 'string' && baseRaw !== '';
  const baseChecksum = isLayered ? (baseRaw as string) : d.csum;
  const base = isLayered ? (commitInfoOrUndefined(repoPath, baseChecksum) ?? own) : own;
  const v = base?.metadata[META_VERSION];
  return {
    index: d.index,
    osname: d.osname,
    checksum: d.csum,
    serial: d.deployserial,
    booted: d.booted,
    staged: d.staged,
    pinned: d.pinned,
    isDefault: false,
    isRollback: false,
    origin,
    originError,
    baseChecksum,
    version: typeof v === 'string' ? v : undefined,
    timestamp: base?.timestamp ?? 0,
    kargs: parseKargs(d.options).filter((k) => !k.startsWith('ostree=')),
    deployPath: d.deployPath,
    originPath: d.originPath,
    bootserial: d.bootserial,
    bootcsum: d.bootcsum,
    bootconfig: d.bootconfig,
    commitMetadata: own?.metadata ?? {},
  };
}

export interface NewDeploymentOptions {
  osname: string;
  /** A checksum (or ref) in the sysroot's repository. */
  commit: string;
  origin: Origin;
  /** The full new kernel argument list; default: keep the merge deployment's. */
  kargs?: string[];
}

/**
 * Deploy `commit` as the new default deployment with its origin file; the
 * previous default stays as rollback. Staged (finalized at shutdown) when the
 * sysroot is the booted system, written directly otherwise.
 * Returns the checksum deployed.
 */
export async function writeNewDeployment(ctx: OperationContext, sysroot: Sysroot, opts: NewDeploymentOptions): Promise<string> {
  return withSysrootLock(sysroot.path, async () => {
    if (ctx.signal.aborted) throw new CancelledError();
    const checksum = /^[0-9a-f]{64}$/.test(opts.commit) ? opts.commit : await revParse(sysroot.repoPath, opts.commit);
    if (!checksum) {
      throw new AptOstreeError('not-found', `${opts.commit} is not in the sysroot's repository ${sysroot.repoPath}`);
    }
    if (opts.kargs) validateKargs(opts.kargs);
    await keepBaseCommits(sysroot, checksum, ctx.signal);
    const dir = mkdtempSync(join(tmpdir(), 'apt-ostree-origin-'));
    try {
      const originFile = join(dir, 'origin');
      writeFileSync(originFile, serializeOrigin(opts.origin));
      await admin.deploy(
        sysroot.path,
        {
          osname: opts.osname,
          revision: checksum,
          originFile,
          kargs: opts.kargs,
          stage: sysroot.booted !== undefined,
        },
        { signal: ctx.signal },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return checksum;
  });
}

/** Refs that keep the base commits of layered deployments (rpm-ostree: rpmostree/base/N). */
export const BASE_REF_PREFIX = 'aptostree/base/';

/**
 * Point aptostree/base/0..N at the base commits of the layered deployments
 * (the existing ones and `commit`'s), dropping the others: a layered commit's
 * parent is no ref of its own, and the prune that follows a deploy would
 * otherwise delete it, and with it what status, db and the next layering
 * operation read from the base.
 */
async function keepBaseCommits(sysroot: Sysroot, commit: string, signal: AbortSignal): Promise<void> {
  const repo = sysroot.repoPath;
  const bases: string[] = [];
  const add = (c: string | undefined): void => {
    if (c && /^[0-9a-f]{64}$/.test(c) && !bases.includes(c) && existsSync(join(repo, 'objects', c.slice(0, 2), `${c.slice(2)}.commit`)))
      bases.push(c);
  };
  const own = commitInfoOrUndefined(repo, commit)?.metadata;
  if (own?.[META_CLIENT_LAYER] === 'true' || own?.[META_CLIENT_LAYER] === true) add(String(own[META_BASE_CHECKSUM] ?? ''));
  for (const d of sysroot.deployments) if (d.baseChecksum !== d.checksum) add(d.baseChecksum);
  const listed = await run('ostree', ['refs', `--repo=${repo}`, '--list', BASE_REF_PREFIX.replace(/\/$/, '')], {
    errorCode: 'ostree',
    okCodes: [1],
    signal,
  });
  const existing = listed.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((r) => (r.startsWith(BASE_REF_PREFIX) ? r : `${BASE_REF_PREFIX}${r}`));
  for (const [i, c] of bases.entries()) {
    await run('ostree', ['refs', `--repo=${repo}`, '--force', `--create=${BASE_REF_PREFIX}${i}`, c], {
      errorCode: 'ostree',
      what: `keeping the base commit ${c.slice(0, 12)}`,
      signal,
    });
  }
  for (const r of existing) {
    const n = Number(r.slice(BASE_REF_PREFIX.length));
    if (!Number.isInteger(n) || n >= bases.length)
      await run('ostree', ['refs', `--repo=${repo}`, '--delete', r], { errorCode: 'ostree', what: `deleting the ref ${r}`, signal });
  }
}

/** A kernel argument must be KEY or KEY=VALUE, with no spaces outside quotes and no newlines. */
export function validateKargs(kargs: readonly string[]): void {
  for (const k of kargs) {
    if (!isValidKarg(k)) {
      throw new AptOstreeError('usage', `invalid kernel argument "${k}"`, {
        hint: 'kernel arguments are KEY or KEY=VALUE; quote a value that has spaces, e.g. KEY="a b"',
      });
    }
  }
}

export function isValidKarg(k: string): boolean {
  if (k === '' || /[\n\r\0]/.test(k)) return false;
  const eq = k.indexOf('=');
  const key = eq < 0 ? k : k.slice(0, eq);
  if (key === '' || /[\s"=]/.test(key)) return false;
  if (eq < 0) return true;
  const value = k.slice(eq + 1);
  // Spaces only inside double quotes; quotes balanced.
  const quotes = (value.match(/"/g) ?? []).length;
  if (quotes % 2 !== 0) return false;
  return parseKargs(value).length <= 1 && !(quotes === 0 && /\s/.test(value));
}

// ---------------------------------------------------------------------------
// apt-ostree's own lock over one whole operation

const held = new AsyncLocalStorage<Set<string>>();

/** Where the lock lives: /run on the booted system, the sysroot's ostree/ directory otherwise. */
export function lockPath(sysrootPath: string): string {
  const abs = resolve(sysrootPath);
  return abs === '/' ? '/run/apt-ostree.lock' : join(abs, 'ostree', 'apt-ostree.lock');
}

/**
 * Run `fn` holding apt-ostree's lock on the sysroot: an flock(2) that the
 * kernel releases when its holder dies, so a lock of a dead process is simply
 * taken over. Re-entrant within one async call chain; another process, or
 * another operation of the same daemon, gets a 'busy' error.
 */
export async function withSysrootLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const abs = resolve(path);
  const mine = held.getStore();
  if (mine?.has(abs)) return fn();
  assertSysroot(abs);
  const file = lockPath(abs);
  const fd = openSync(file, 'a+');
  try {
    if (!native.flock(fd, true, true)) {
      let holder = '';
      try {
        holder = readFileSync(file, 'utf8').trim();
      } catch {
        /* unreadable: leave the message without it */
      }
      throw new AptOstreeError('busy', `another apt-ostree operation is running on ${abs}${holder ? ` (${holder})` : ''}`, {
        hint: 'wait for it to finish (apt-ostree status shows the sysroot meanwhile)',
      });
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `pid ${process.pid}\n`, 0);
    const set = new Set(mine ?? []);
    set.add(abs);
    return await held.run(set, fn);
  } finally {
    closeSync(fd); // releases the flock
  }
}
