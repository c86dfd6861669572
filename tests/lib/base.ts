/**
 * The composed Debian base that integration tests build on.
 *
 * `baseRepo('v1')` (the default) returns an archive-mode OSTree repository
 * under CACHE_DIR/base-v1/repo whose ref BASE_REF holds one commit: a bookworm
 * `minbase` tree with apt and dpkg, `kernel: placeholder` (so `ostree admin
 * deploy` accepts it; it does not boot), version "1.0", composed by the real
 * `apt-ostree compose tree` CLI from this machine's APT sources (bookworm,
 * bookworm-updates, bookworm-security), with all commit metadata
 * (META_PACKAGES, META_SUITE, META_SECURITY_UPDATES, META_INPUTS, version).
 *
 * `baseRepo('v2')` returns another repository, CACHE_DIR/base-v2/repo, whose
 * ref BASE_REF has two commits: the very v1 commit (same checksum, pulled from
 * the v1 repository) and on top of it v2, version "2.0", which adds the
 * packages V2_EXTRA_PACKAGES (hello, less). `previous` is the v1 checksum.
 * Serve that repository over HTTP to test upgrades from v1 to v2.
 *
 * Both are cached between runs: when a stamp file matches the treefile they
 * return at once without touching the network; otherwise they are composed
 * again from scratch (about 30 s each). Concurrent callers (several test
 * processes) serialize on CACHE_DIR/base.lock; a lock whose process is gone,
 * or older than an hour, is taken over.
 *
 * Treat the returned repositories as read-only: pull from them (ostree
 * pull-local, or HTTP), never commit into them.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, CLI } from './env';

export type BaseVariant = 'v1' | 'v2';

export interface BaseRepo {
  /** Archive-mode repository (read-only for tests). */
  repo: string;
  /** The ref (BASE_REF). */
  ref: string;
  /** Checksum of the ref's head (v1's or v2's commit). */
  checksum: string;
  /** version metadata of that commit ("1.0" or "2.0"). */
  version: string;
  /** For v2: the checksum of v1, the parent of `checksum`. */
  previous?: string;
}

export const BASE_REF = 'debian/bookworm/test-base';
export const BASE_SUITE = 'bookworm';
export const BASE_PACKAGES: readonly string[] = ['apt', 'dpkg'];
export const V2_EXTRA_PACKAGES: readonly string[] = ['hello', 'less'];
export const BASE_VERSIONS: Readonly<Record<BaseVariant, string>> = { v1: '1.0', v2: '2.0' };

/** The treefile text of a variant. */
export function baseTreefile(variant: BaseVariant): string {
  const pkgs = variant === 'v1' ? BASE_PACKAGES : [...BASE_PACKAGES, ...V2_EXTRA_PACKAGES];
  return [
    '# apt-ostree test base (tests/lib/base.ts)',
    `ref: ${BASE_REF}`,
    `version: "${BASE_VERSIONS[variant]}"`,
    `suite: ${BASE_SUITE}`,
    'variant: minbase',
    'components: [main]',
    `packages: [${pkgs.join(', ')}]`,
    'kernel: placeholder',
    '',
  ].join('\n');
}

export async function baseRepo(variant: BaseVariant = 'v1'): Promise<BaseRepo> {
  const fast = readyBase(variant);
  if (fast) return fast;
  mkdirSync(CACHE_DIR, { recursive: true });
  const release = await acquireLock(join(CACHE_DIR, 'base.lock'));
  try {
    const v1 = readyBase('v1') ?? (await buildBase('v1'));
    if (variant === 'v1') return v1;
    return readyBase('v2') ?? (await buildBase('v2', v1));
  } finally {
    release();
  }
}

function dirOf(variant: BaseVariant): string {
  return join(CACHE_DIR, `base-${variant}`);
}

/** What the cached repository must have been built from. */
function stampOf(variant: BaseVariant): string {
  const h = createHash('sha256').update(baseTreefile('v1'));
  if (variant === 'v2') h.update(baseTreefile('v2'));
  return h.digest('hex');
}

function readyBase(variant: BaseVariant): BaseRepo | undefined {
  const dir = dirOf(variant);
  try {
    const stamp = JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8')) as { stamp: string; checksum: string; previous?: string };
    if (stamp.stamp !== stampOf(variant)) return undefined;
    const repo = join(dir, 'repo');
    const refFile = join(repo, 'refs', 'heads', ...BASE_REF.split('/'));
    if (!existsSync(refFile) || readFileSync(refFile, 'utf8').trim() !== stamp.checksum) return undefined;
    return { repo, ref: BASE_REF, checksum: stamp.checksum, version: BASE_VERSIONS[variant], previous: stamp.previous };
  } catch {
    return undefined;
  }
}

async function buildBase(variant: BaseVariant, v1?: BaseRepo): Promise<BaseRepo> {
  const dir = dirOf(variant);
  const repo = join(dir, 'repo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const treefile = join(dir, 'treefile.yaml');
  writeFileSync(treefile, baseTreefile(variant));
  if (variant === 'v2') {
    if (!v1) throw new Error('baseRepo: v2 needs v1');
    await exec('ostree', ['init', `--repo=${repo}`, '--mode=archive']);
    await exec('ostree', ['pull-local', `--repo=${repo}`, v1.repo, BASE_REF]);
  }
  await exec(process.execPath, [CLI, 'compose', 'tree', treefile, '--repo', repo]);
  const checksum = (await exec('ostree', ['rev-parse', `--repo=${repo}`, BASE_REF])).trim();
  const result: BaseRepo = { repo, ref: BASE_REF, checksum, version: BASE_VERSIONS[variant], previous: v1?.checksum };
  writeFileSync(join(dir, 'stamp.json'), JSON.stringify({ stamp: stampOf(variant), checksum, previous: v1?.checksum }));
  return result;
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, APT_OSTREE_DIRECT: '1' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve(stdout);
      else reject(new Error(`baseRepo: ${cmd} ${args.join(' ')} failed (${code}):\n${stdout}\n${Buffer.concat(err).toString('utf8')}`));
    });
  });
}

const STALE_MS = 60 * 60 * 1000;

/** A lock file holding the owner's pid; taken over when that process is gone or the lock is stale. */
async function acquireLock(path: string): Promise<() => void> {
  const deadline = Date.now() + 30 * 60 * 1000;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (lockIsStale(path)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`baseRepo: timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function lockIsStale(path: string): boolean {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Date.now() - statSync(path).mtimeMs > STALE_MS) return true;
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - statSync(path).mtimeMs > 5000;
    try {
      process.kill(pid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  } catch {
    return false; // vanished meanwhile: retry
  }
}
