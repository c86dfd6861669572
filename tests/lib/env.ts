/**
 * Helpers shared by the tests: scratch directories, running the real CLI,
 * the cache directory kept between runs.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Repository root (tests run from dist/tests/...). */
export const ROOT = resolve(__dirname, '..', '..', '..');
export const CLI = join(ROOT, 'bin', 'apt-ostree');
export const DAEMON = join(ROOT, 'bin', 'apt-ostreed');

/** Kept between test runs: the composed Debian base, downloaded packages. */
export const CACHE_DIR = process.env.APT_OSTREE_TEST_CACHE ?? '/var/cache/apt-ostree-test';

/** Scratch space on the same filesystem as the cache (hardlinks, overlayfs). */
export const SCRATCH_DIR = process.env.APT_OSTREE_TEST_SCRATCH ?? '/var/tmp/apt-ostree-test';

export function tmpdir(prefix: string): string {
  mkdirSync(SCRATCH_DIR, { recursive: true });
  return mkdtempSync(join(SCRATCH_DIR, `${prefix}-`));
}

export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real apt-ostree CLI. */
export function runCli(args: string[], opts: SpawnSyncOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    ...opts,
    env: { ...process.env, APT_OSTREE_DIRECT: '1', ...(opts.env ?? {}) },
  });
  return { code: r.status ?? 128, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Run any program, returning its output (throws when it fails). */
export function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${String(r.stderr)}`);
  }
  return String(r.stdout);
}
