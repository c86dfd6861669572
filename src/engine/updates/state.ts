/**
 * The state file of update checks (automatic runs and `upgrade --check`):
 * the last automatic run and the update the last check found, which
 * `status` shows as the cached update. JSON under the sysroot's
 * /var/lib/apt-ostree/automatic-update.json, replaced atomically.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { META_SECURITY_UPDATES } from '../ostree/metadata';
import { commitInfo } from '../ostree/native';
import type { PackageDiff } from './pkgdiff';

/** The automatic-update policies and scopes (automatic.ts re-exports them). */
export const AUTOMATIC_POLICIES = ['none', 'check', 'stage'] as const;
export type AutomaticUpdatePolicy = (typeof AUTOMATIC_POLICIES)[number];
export const AUTOMATIC_SCOPES = ['full', 'security'] as const;
export type AutomaticUpdateScope = (typeof AUTOMATIC_SCOPES)[number];

export type AutomaticRunResult = 'no-update' | 'update-available' | 'staged' | 'not-security' | 'disabled' | 'failed';

export interface AutomaticLastRun {
  /** ISO 8601. */
  started: string;
  finished: string;
  mode: AutomaticUpdatePolicy;
  scope: AutomaticUpdateScope;
  result: AutomaticRunResult;
  /** One line for `status`. */
  message: string;
}

/** A layered package the update changes: from null when it is new, to null when it goes. */
export interface LayeredUpdate {
  name: string;
  arch: string;
  from: string | null;
  to: string | null;
  /** The new version comes from a security archive. */
  security: boolean;
}

export interface AvailableUpdate {
  /** Commit of the new base. */
  commit: string;
  version?: string;
  /** Of the new base, seconds since the epoch. */
  timestamp: number;
  diff: PackageDiff;
  /** Packages of the new base updated from a security archive (META_SECURITY_UPDATES, new or changed). */
  securityFixes: string[];
  /** Layered packages (and what they pulled in) that the update changes. */
  layered?: LayeredUpdate[];
  /** ISO 8601: when it was found. */
  checked: string;
}

export interface AutomaticState {
  version: 1;
  lastRun?: AutomaticLastRun;
  availableUpdate?: AvailableUpdate;
  /** Checksum of the deployment the last `stage` run made. */
  stagedDeployment?: string;
}

export const STATE_SUBDIR = 'var/lib/apt-ostree';
const STATE_FILE = 'automatic-update.json';

export function automaticStatePath(sysrootPath: string): string {
  return join(resolve(sysrootPath), STATE_SUBDIR, STATE_FILE);
}

export function readAutomaticState(sysrootPath: string): AutomaticState {
  let text: string;
  try {
    text = readFileSync(automaticStatePath(sysrootPath), 'utf8');
  } catch {
    return { version: 1 };
  }
  try {
    const v = JSON.parse(text) as AutomaticState;
    if (typeof v !== 'object' || v === null || v.version !== 1) return { version: 1 };
    return v;
  } catch {
    return { version: 1 };
  }
}

export function writeAutomaticState(sysrootPath: string, state: AutomaticState): void {
  const path = automaticStatePath(sysrootPath);
  mkdirSync(join(resolve(sysrootPath), STATE_SUBDIR), { recursive: true, mode: 0o755 });
  const tmp = `${path}.tmp`;
  // Written in full and on disk before it replaces the previous state, and the rename itself made durable:
  // a crash leaves the old state or the new one, never an empty file.
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeFileSync(fd, JSON.stringify(state, null, 2) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

// ---------------------------------------------------------------------------
// Security fixes

/** Names in a META_SECURITY_UPDATES value: a JSON list of names, or of [name, version, arch], or of {name}. */
export function parseSecurityUpdates(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  let v: unknown = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(v)) return [];
  const names: string[] = [];
  for (const item of v) {
    if (typeof item === 'string') names.push(item);
    else if (Array.isArray(item) && typeof item[0] === 'string') names.push(item[0]);
    else if (typeof item === 'object' && item !== null && typeof (item as { name?: unknown }).name === 'string') {
      names.push((item as { name: string }).name);
    }
  }
  return names;
}

/** The security packages of the new base that the diff brings (new or changed): empty when it carries no security fix. */
export function securityFixesIn(diff: PackageDiff, newSecurityUpdates: readonly string[]): string[] {
  const sec = new Set(newSecurityUpdates);
  const changed = [...diff.added.map((p) => p.name), ...diff.upgraded.map((c) => c.name), ...diff.downgraded.map((c) => c.name)];
  return [...new Set(changed.filter((n) => sec.has(n)))].sort();
}

export async function securityUpdatesOf(sysrootPath: string, commit: string): Promise<string[]> {
  try {
    const info = commitInfo(join(resolve(sysrootPath), 'ostree', 'repo'), commit);
    return parseSecurityUpdates(info.metadata[META_SECURITY_UPDATES]);
  } catch {
    return [];
  }
}
