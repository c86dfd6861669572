/**
 * The record of changes applied live to the running /usr (apply-live): one
 * JSON file per booted deployment under /run/apt-ostree/live, so that it
 * goes away with the transient overlay at the next boot. Read by status
 * (kept light: no engine imports) and written by ./live.ts.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the live state of the booted deployment is kept (tmpfs: gone after a reboot, as the overlay is). */
export const LIVE_STATE_DIR = '/run/apt-ostree/live';

export interface LiveState {
  /** The commit whose /usr is live (rpm-ostree's live-replaced); absent while the first apply is interrupted. */
  commit?: string;
  /** The commit an apply was making live when it stopped (rpm-ostree's live-inprogress). */
  inprogress?: string;
  /** The files of /usr that came live, changed or went away, relative to the booted commit's tree. */
  added: string[];
  changed: string[];
  removed: string[];
  /** Files of the new /etc copied into the running /etc (which lacked them). */
  etc: string[];
  /** ISO 8601 time of the last apply. */
  time: string;
}

export function liveStatePath(d: { checksum: string; serial: number }): string {
  return join(LIVE_STATE_DIR, `${d.checksum}.${d.serial}.json`);
}

const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);

/** The live state of a deployment, if changes were applied live to it in this boot. */
export function readLiveState(d: { checksum: string; serial: number }): LiveState | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(liveStatePath(d), 'utf8'));
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const o = raw as Record<string, unknown>;
  const hex = (x: unknown): string | undefined => (typeof x === 'string' && /^[0-9a-f]{64}$/.test(x) ? x : undefined);
  const commit = hex(o.commit);
  const inprogress = hex(o.inprogress);
  if (!commit && !inprogress) return undefined;
  return {
    ...(commit ? { commit } : {}),
    ...(inprogress ? { inprogress } : {}),
    added: strings(o.added),
    changed: strings(o.changed),
    removed: strings(o.removed),
    etc: strings(o.etc),
    time: typeof o.time === 'string' ? o.time : '',
  };
}

/** Write (atomically) or, with undefined, remove the live state of a deployment. */
export function writeLiveState(d: { checksum: string; serial: number }, s: LiveState | undefined): void {
  const path = liveStatePath(d);
  if (!s) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(LIVE_STATE_DIR, { recursive: true, mode: 0o755 });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 1) + '\n', { mode: 0o644 });
  renameSync(tmp, path);
}
