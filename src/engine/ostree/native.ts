/**
 * The project's small N-API addon over libostree (native/ostree_addon.c), for
 * what the `ostree` command of Debian 12 (2022.7) lacks: a machine-readable
 * list of deployments, reordering them (ostree_sysroot_write_deployments),
 * reading a commit's metadata as values, and flock(2) for apt-ostree's lock.
 * Everything else goes through the `ostree` command (./admin.ts).
 *
 * This module is the only place that loads the addon; the rest of the engine
 * imports the typed functions below.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AptOstreeError } from '../errors';

/** One deployment as libostree sees it, in boot order. */
export interface NativeDeployment {
  index: number;
  osname: string;
  csum: string;
  deployserial: number;
  bootserial: number;
  bootcsum: string;
  booted: boolean;
  staged: boolean;
  pinned: boolean;
  /** The bootconfig "options" line (kernel arguments), '' when none. */
  options: string;
  /** Other bootconfig keys (linux, initrd, title, version...). */
  bootconfig: Record<string, string>;
  /** Absolute path of the origin file (may not exist). */
  originPath: string;
  /** Absolute path of the deployment's root directory. */
  deployPath: string;
}

/** A deployment named the way libostree identifies it. */
export interface DeploymentId {
  osname: string;
  csum: string;
  deployserial: number;
}

/** Metadata values converted from GVariant: basic types, string arrays; anything else as GVariant text. */
export type MetadataValue = string | number | boolean | bigint | string[];

export interface NativeCommitInfo {
  checksum: string;
  parent: string | null;
  subject: string;
  body: string;
  /** Seconds since the epoch. */
  timestamp: number;
  metadata: Record<string, MetadataValue>;
}

interface Addon {
  listDeployments(sysroot: string): NativeDeployment[];
  writeDeployments(sysroot: string, order: DeploymentId[]): Promise<void>;
  commitInfo(repo: string, rev: string): NativeCommitInfo;
  flock(fd: number, exclusive: boolean, nonblocking: boolean): boolean;
}

let cached: Addon | undefined;

// The program's top directory: this file is dist/src/engine/ostree/native.js (tsc), or part of a
// bundle dist/bundle/NAME.js (scripts/bundle.mjs); the addon is under native/ either way.
const ROOT = resolve(__dirname, ...(__filename.endsWith(join('ostree', 'native.js')) ? ['..', '..', '..', '..'] : ['..', '..']));
const CANDIDATES = [
  join(ROOT, 'native', 'build', 'Release', 'ostree_addon.node'),
  join(ROOT, 'native', 'build', 'Debug', 'ostree_addon.node'),
];

/** The addon, loaded once; a clear error when it was not built. */
export function addon(): Addon {
  if (cached) return cached;
  const path = CANDIDATES.find((p) => existsSync(p));
  if (!path) {
    throw new AptOstreeError('internal', `the native libostree addon is not built (looked for ${CANDIDATES[0]})`, {
      hint: 'run "npm run build:native" (needs libostree-dev, pkg-config and build-essential: scripts/setup.sh installs them)',
    });
  }
  try {
    // The one dynamic load of the code base: the addon is a compiled .node file
    // found at run time (Release or Debug build), which `import` cannot name.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(path) as Addon;
  } catch (e) {
    throw new AptOstreeError('internal', `could not load the native libostree addon ${path}: ${(e as Error).message}`, {
      hint: 'rebuild it with "npm run build:native"',
    });
  }
  return cached;
}

/** Errors of the addon are plain Errors carrying libostree's message; make them typed. */
function wrap<T>(what: string, fn: () => T, code: 'ostree' | 'not-a-sysroot' | 'not-found' = 'ostree'): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AptOstreeError) throw e;
    throw new AptOstreeError(code, `${what}: ${(e as Error).message}`);
  }
}

export function listDeployments(sysroot: string): NativeDeployment[] {
  const a = addon();
  return wrap(`reading the deployments of ${sysroot}`, () => a.listDeployments(sysroot));
}

/** Replace the sysroot's list of deployments by `order` (each must exist); the first becomes the default. */
export async function writeDeployments(sysroot: string, order: DeploymentId[]): Promise<void> {
  const a = addon();
  try {
    await a.writeDeployments(sysroot, order);
  } catch (e) {
    throw new AptOstreeError('ostree', `writing the deployments of ${sysroot}: ${(e as Error).message}`);
  }
}

export function commitInfo(repo: string, rev: string): NativeCommitInfo {
  const a = addon();
  return wrap(`reading commit ${rev} in ${repo}`, () => a.commitInfo(repo, rev), 'not-found');
}

/** flock(2) on an open file descriptor. False when nonblocking and held elsewhere. */
export function flock(fd: number, exclusive: boolean, nonblocking: boolean): boolean {
  return addon().flock(fd, exclusive, nonblocking);
}
