/**
 * Automatic updates, after rpm-ostree's AutomaticUpdatePolicy.
 *
 * Configuration ([Daemon] in /etc/apt-ostree/apt-ostreed.conf):
 *   AutomaticUpdatePolicy = none (default) | check | stage
 *     none   nothing happens (the timer's runs are no-ops)
 *     check  find out whether an update is available and remember it:
 *            `status` shows "AvailableUpdate" with version, date and package diff
 *     stage  download and stage it: it becomes the default at the next boot
 *   AutomaticUpdateScope = full (default) | security
 *     security  a new base is taken only when it carries security fixes; the
 *               layered packages alone (on the current base) when one of them
 *               has a new version from a security archive.
 *
 * "Carries security fixes": `compose tree` writes META_SECURITY_UPDATES into
 * each base commit: the installed packages whose version was taken from a
 * security archive (Suite or Codename ending in "-security", or a Label with
 * "Security": isSecurityRelease in compose/mirror.ts). A new base carries
 * security fixes when at least one package of that list is new or changed
 * relative to the base deployed now. A base that merely still contains an
 * old security update the deployed base already has does not count.
 *
 * State (JSON) under the sysroot's /var/lib/apt-ostree/automatic-update.json:
 * the last run (when, mode, scope, result) and the update found by `check`.
 */
import { readFileSync } from 'node:fs';
import { AptOstreeError } from './errors';
import { KeyFile } from './keyfile';
import { log } from './log';
import { compareDebianVersions } from './updates/debversion';
import type { PackageDiff } from './updates/pkgdiff';
import { readAutomaticState, type AutomaticLastRun, type AvailableUpdate } from './updates/state';

import { AUTOMATIC_POLICIES, AUTOMATIC_SCOPES, type AutomaticUpdatePolicy, type AutomaticUpdateScope } from './updates/state';

export { AUTOMATIC_POLICIES, AUTOMATIC_SCOPES, type AutomaticUpdatePolicy, type AutomaticUpdateScope };

export function parsePolicy(s: string): AutomaticUpdatePolicy | undefined {
  const v = s.trim().toLowerCase();
  // rpm-ostree accepts "off" for none and "ex-stage" style spellings; "off" is kept for familiarity.
  if (v === 'off') return 'none';
  return AUTOMATIC_POLICIES.find((p) => p === v);
}

export function parseScope(s: string): AutomaticUpdateScope | undefined {
  const v = s.trim().toLowerCase();
  return AUTOMATIC_SCOPES.find((p) => p === v);
}

export const DEFAULT_CONFIG_PATH = '/etc/apt-ostree/apt-ostreed.conf';

/** The configuration file: an explicit path, else $APT_OSTREE_CONFIG, else /etc/apt-ostree/apt-ostreed.conf. */
export function configFilePath(explicit?: string): string {
  if (explicit !== undefined && explicit !== '') return explicit;
  const env = process.env.APT_OSTREE_CONFIG;
  return env !== undefined && env !== '' ? env : DEFAULT_CONFIG_PATH;
}

/** Read the configuration file as a key file; a missing file is no error (defaults apply). */
export function readDaemonKeyFile(explicit?: string): { keyfile?: KeyFile; path: string } {
  const path = configFilePath(explicit);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path };
    throw new AptOstreeError('invalid-config', `cannot read ${path}: ${(e as Error).message}`, {
      hint:
        (e as NodeJS.ErrnoException).code === 'EACCES'
          ? 'it must be readable by all (mode 0644): apt-ostree-countme.service reads it as an unprivileged user'
          : undefined,
    });
  }
  return { keyfile: KeyFile.parse(text, path), path };
}

export interface AutomaticConfig {
  policy: AutomaticUpdatePolicy;
  scope: AutomaticUpdateScope;
}

export const DEFAULT_AUTOMATIC_CONFIG: AutomaticConfig = { policy: 'none', scope: 'full' };

/**
 * The automatic-update part of a configuration. An unknown value does not
 * fail: it is reported in `problems` (naming key and value) and the value of
 * `previous` is kept, so a daemon that reloads a bad file carries on as it was.
 */
export function automaticConfigFrom(
  kf: KeyFile | undefined,
  previous: AutomaticConfig = DEFAULT_AUTOMATIC_CONFIG,
  source = DEFAULT_CONFIG_PATH,
): { config: AutomaticConfig; problems: string[] } {
  const problems: string[] = [];
  const config: AutomaticConfig = { ...DEFAULT_AUTOMATIC_CONFIG };
  const p = kf?.getString('Daemon', 'AutomaticUpdatePolicy');
  if (p !== undefined) {
    const v = parsePolicy(p);
    if (v) config.policy = v;
    else {
      problems.push(
        `${source}: [Daemon] AutomaticUpdatePolicy=${p} is not one of ${AUTOMATIC_POLICIES.join(', ')}; keeping "${previous.policy}"`,
      );
      config.policy = previous.policy;
    }
  }
  const s = kf?.getString('Daemon', 'AutomaticUpdateScope');
  if (s !== undefined) {
    const v = parseScope(s);
    if (v) config.scope = v;
    else {
      problems.push(
        `${source}: [Daemon] AutomaticUpdateScope=${s} is not one of ${AUTOMATIC_SCOPES.join(', ')}; keeping "${previous.scope}"`,
      );
      config.scope = previous.scope;
    }
  }
  return { config, problems };
}

// ---------------------------------------------------------------------------
// State

export {
  parseSecurityUpdates,
  securityFixesIn,
  automaticStatePath,
  readAutomaticState,
  writeAutomaticState,
  STATE_SUBDIR,
  type AutomaticLastRun,
  type AutomaticRunResult,
  type AutomaticState,
  type AvailableUpdate,
  type LayeredUpdate,
} from './updates/state';

// ---------------------------------------------------------------------------
// Security fixes

// ---------------------------------------------------------------------------
// Status

export interface AutomaticStatus {
  policy: AutomaticUpdatePolicy;
  scope: AutomaticUpdateScope;
  lastRun?: AutomaticLastRun;
  availableUpdate?: AvailableUpdate;
}

/** Status JSON fragment (rpm-ostree names where it has them: "update-driver"-like extras kept apart). */
export function automaticStatusJson(s: AutomaticStatus): Record<string, unknown> {
  return {
    'automatic-updates': {
      policy: s.policy,
      scope: s.scope,
      'last-run': s.lastRun
        ? {
            started: s.lastRun.started,
            finished: s.lastRun.finished,
            mode: s.lastRun.mode,
            scope: s.lastRun.scope,
            result: s.lastRun.result,
            message: s.lastRun.message,
          }
        : null,
    },
    'cached-update': s.availableUpdate
      ? {
          checksum: s.availableUpdate.commit,
          version: s.availableUpdate.version ?? null,
          timestamp: s.availableUpdate.timestamp,
          // rpm-ostree's rpm-diff: base and layered changes together.
          'rpm-diff': combinedDiff(s.availableUpdate) as unknown as Record<string, unknown>,
          'security-fixes': s.availableUpdate.securityFixes,
          'security-count': securityCount(s.availableUpdate),
          diff: s.availableUpdate.diff,
          layered: s.availableUpdate.layered ?? [],
          checked: s.availableUpdate.checked,
        }
      : null,
  };
}

/** "AutomaticUpdates: check (scope full); last run 3 h ago: update available" plus the AvailableUpdate block. */
export function formatAutomaticStatus(s: AutomaticStatus, now: Date = new Date()): string {
  const lines: string[] = [];
  let line = `AutomaticUpdates: ${s.policy === 'none' ? 'disabled' : s.policy}`;
  if (s.scope !== 'full') line += ` (security only)`;
  if (s.lastRun) line += `; last run ${ago(new Date(s.lastRun.finished), now)}: ${s.lastRun.message}`;
  else if (s.policy !== 'none') line += '; not run yet';
  lines.push(line);
  const u = s.availableUpdate;
  if (u) {
    lines.push('AvailableUpdate:');
    if (u.version)
      lines.push(
        `      Version: ${u.version} (${new Date(u.timestamp * 1000)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z')})`,
      );
    else lines.push(`    Timestamp: ${new Date(u.timestamp * 1000).toISOString()}`);
    lines.push(`       Commit: ${u.commit}`);
    const sec = [...u.securityFixes, ...(u.layered ?? []).filter((l) => l.security).map((l) => l.name)];
    if (sec.length > 0) lines.push(`     Security: ${sec.length} package(s) from security archives: ${sec.join(' ')}`);
    lines.push(`         Diff: ${summarizeDiff(u.diff)}`);
    for (const c of u.diff.upgraded) lines.push(`               ${c.name} ${c.from} -> ${c.to}`);
    for (const c of u.diff.downgraded) lines.push(`               ${c.name} ${c.from} -> ${c.to} (downgrade)`);
    for (const p of u.diff.added) lines.push(`               +${p.name} ${p.version}`);
    for (const p of u.diff.removed) lines.push(`               -${p.name} ${p.version}`);
    for (const l of u.layered ?? [])
      lines.push(`      Layered: ${l.name} ${l.from ?? '(new)'} -> ${l.to ?? '(removed)'}${l.security ? ' (security)' : ''}`);
  }
  return lines.join('\n');
}

/** How many packages of the update come from security archives (base and layered). */
export function securityCount(u: AvailableUpdate): number {
  return u.securityFixes.length + (u.layered ?? []).filter((l) => l.security).length;
}

/** The base diff and the layered changes in one package diff. */
export function combinedDiff(u: AvailableUpdate): PackageDiff {
  const d: PackageDiff = {
    added: [...u.diff.added],
    removed: [...u.diff.removed],
    upgraded: [...u.diff.upgraded],
    downgraded: [...u.diff.downgraded],
  };
  for (const c of u.layered ?? []) {
    if (c.from === null && c.to !== null) d.added.push({ name: c.name, version: c.to, arch: c.arch });
    else if (c.to === null && c.from !== null) d.removed.push({ name: c.name, version: c.from, arch: c.arch });
    else if (c.from !== null && c.to !== null) {
      const ch = { name: c.name, arch: c.arch, from: c.from, to: c.to };
      if (compareDebianVersions(c.to, c.from) < 0) d.downgraded.push(ch);
      else d.upgraded.push(ch);
    }
  }
  return d;
}

export function summarizeDiff(d: PackageDiff): string {
  const parts: string[] = [];
  if (d.upgraded.length > 0) parts.push(`${d.upgraded.length} upgraded`);
  if (d.downgraded.length > 0) parts.push(`${d.downgraded.length} downgraded`);
  if (d.removed.length > 0) parts.push(`${d.removed.length} removed`);
  if (d.added.length > 0) parts.push(`${d.added.length} added`);
  return parts.length === 0 ? 'no package changes' : parts.join(', ');
}

function ago(t: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - t.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}min ago`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ago`;
}

/** The policy in force when the caller does not say: the configuration file's (defaults on bad values). */
export function automaticConfigFromFile(explicit?: string): AutomaticConfig {
  try {
    const { keyfile, path } = readDaemonKeyFile(explicit);
    return automaticConfigFrom(keyfile, DEFAULT_AUTOMATIC_CONFIG, path).config;
  } catch {
    return { ...DEFAULT_AUTOMATIC_CONFIG };
  }
}

/** The mode and scope of one automatic-update run. */
export interface AutomaticRunMode {
  mode: AutomaticUpdatePolicy;
  scope: AutomaticUpdateScope;
}

/**
 * The mode and scope of an automatic-update run: what the caller asked for,
 * and for what it left out the settings in force: `inForce` (a daemon passes
 * its own), else the configuration file's (read only when needed).
 */
export function automaticRunMode(
  requested: { mode?: AutomaticUpdatePolicy; scope?: AutomaticUpdateScope },
  inForce?: AutomaticConfig,
): AutomaticRunMode {
  if (requested.mode !== undefined && requested.scope !== undefined) return { mode: requested.mode, scope: requested.scope };
  const c = inForce ?? automaticConfigFromFile();
  return { mode: requested.mode ?? c.policy, scope: requested.scope ?? c.scope };
}

/** What `status` shows of automatic updates for a sysroot. */
export function automaticStatusOf(sysrootPath: string, config: AutomaticConfig = automaticConfigFromFile()): AutomaticStatus {
  const st = readAutomaticState(sysrootPath);
  return { policy: config.policy, scope: config.scope, lastRun: st.lastRun, availableUpdate: st.availableUpdate };
}

// ---------------------------------------------------------------------------
// For the daemon: the settings in force, and Reload()

/**
 * The automatic-update settings a daemon holds. `reload()` reads the file
 * again: a value it cannot use is logged (naming key and value) and the
 * previous valid one kept; an unreadable or malformed file keeps everything
 * as it was. Nothing here throws.
 */
export class AutomaticSettings {
  private current: AutomaticConfig = { ...DEFAULT_AUTOMATIC_CONFIG };

  constructor(private readonly explicitPath?: string) {}

  get(): AutomaticConfig {
    return { ...this.current };
  }

  /** Returns the problems found (also logged as warnings); empty when all was taken. */
  reload(): string[] {
    let parsed: { keyfile?: KeyFile; path: string };
    try {
      parsed = readDaemonKeyFile(this.explicitPath);
    } catch (e) {
      const { policy, scope } = this.current;
      const msg = `${(e as Error).message}; keeping the previous settings (AutomaticUpdatePolicy=${policy}, AutomaticUpdateScope=${scope})`;
      log.warning(msg);
      return [msg];
    }
    const { config, problems } = automaticConfigFrom(parsed.keyfile, this.current, parsed.path);
    for (const p of problems) log.warning(p);
    this.current = config;
    return problems;
  }
}

/** The last run as one line of JSON (for a D-Bus property), or "" when there was none. */
export function lastRunJson(sysrootPath: string): string {
  const r = readAutomaticState(sysrootPath).lastRun;
  return r ? JSON.stringify(r) : '';
}
