/**
 * The daemon's configuration, /etc/apt-ostree/apt-ostreed.conf (a GLib key
 * file), as typed values:
 *
 *   [Daemon]
 *   LogLevel=info                 error | warning | notice | info | debug
 *   IdleExitTimeout=60            seconds without a transaction or a client before exiting; 0: never
 *   AutomaticUpdatePolicy=none    none | check | stage   (see automatic.ts)
 *   AutomaticUpdateScope=full     full | security
 *   TransactionTimeout=3600       seconds a transaction may run before it is cancelled; 0: no limit
 *
 * A value that cannot be used is reported (naming file, key and value) and
 * the previous value kept (the default at start-up): a typo must not stop
 * the daemon. Unknown keys are reported too. A [Countme] group is left to
 * the countme code (read elsewhere); other groups are reported.
 */
import {
  automaticConfigFrom,
  DEFAULT_AUTOMATIC_CONFIG,
  readDaemonKeyFile,
  type AutomaticUpdatePolicy,
  type AutomaticUpdateScope,
} from './automatic';
import type { KeyFile } from './keyfile';
import { parseLogLevel, type LogLevel } from './log';

export interface DaemonConfig {
  logLevel: LogLevel;
  /** Seconds; 0 means never exit when idle. */
  idleExitTimeout: number;
  automaticUpdatePolicy: AutomaticUpdatePolicy;
  automaticUpdateScope: AutomaticUpdateScope;
  /** Seconds; 0 means no limit. */
  transactionTimeout: number;
}

export const DEFAULT_DAEMON_CONFIG: Readonly<DaemonConfig> = {
  logLevel: 'info',
  idleExitTimeout: 60,
  automaticUpdatePolicy: DEFAULT_AUTOMATIC_CONFIG.policy,
  automaticUpdateScope: DEFAULT_AUTOMATIC_CONFIG.scope,
  transactionTimeout: 3600,
};

const KNOWN_DAEMON_KEYS = ['LogLevel', 'IdleExitTimeout', 'AutomaticUpdatePolicy', 'AutomaticUpdateScope', 'TransactionTimeout'];
/** Groups other parts read from the same file. */
const OTHER_GROUPS = ['Countme'];

function seconds(s: string): number | undefined {
  const v = s.trim();
  if (!/^\d{1,9}$/.test(v)) return undefined;
  return Number(v);
}

/** Typed configuration from a key file; problems name the file, key and value. */
export function daemonConfigFrom(
  kf: KeyFile | undefined,
  previous: Readonly<DaemonConfig> = DEFAULT_DAEMON_CONFIG,
  source = 'apt-ostreed.conf',
): { config: DaemonConfig; problems: string[] } {
  const problems: string[] = [];
  const config: DaemonConfig = { ...DEFAULT_DAEMON_CONFIG };
  if (!kf) return { config, problems };
  const keep = <K extends keyof DaemonConfig>(key: string, field: K, raw: string, what: string): void => {
    problems.push(`${source}: [Daemon] ${key}=${raw} is not ${what}; keeping ${String(previous[field])}`);
    config[field] = previous[field];
  };
  const ll = kf.getString('Daemon', 'LogLevel');
  if (ll !== undefined) {
    const v = parseLogLevel(ll);
    if (v) config.logLevel = v;
    else keep('LogLevel', 'logLevel', ll, 'one of error, warning, notice, info, debug');
  }
  for (const [key, field] of [
    ['IdleExitTimeout', 'idleExitTimeout'],
    ['TransactionTimeout', 'transactionTimeout'],
  ] as const) {
    const raw = kf.getString('Daemon', key);
    if (raw === undefined) continue;
    const v = seconds(raw);
    if (v !== undefined) config[field] = v;
    else keep(key, field, raw, 'a number of seconds');
  }
  const auto = automaticConfigFrom(kf, { policy: previous.automaticUpdatePolicy, scope: previous.automaticUpdateScope }, source);
  config.automaticUpdatePolicy = auto.config.policy;
  config.automaticUpdateScope = auto.config.scope;
  problems.push(...auto.problems);
  for (const k of kf.keys('Daemon')) if (!KNOWN_DAEMON_KEYS.includes(k)) problems.push(`${source}: unknown key [Daemon] ${k}; ignored`);
  for (const g of kf.groups()) if (g !== 'Daemon' && !OTHER_GROUPS.includes(g)) problems.push(`${source}: unknown group [${g}]; ignored`);
  return { config, problems };
}

/**
 * Read the configuration file (explicit path, $APT_OSTREE_CONFIG, or the
 * default). A missing file gives the defaults; an unreadable or malformed one
 * keeps `previous` and says why.
 */
export function loadDaemonConfig(
  path?: string,
  previous: Readonly<DaemonConfig> = DEFAULT_DAEMON_CONFIG,
): { config: DaemonConfig; problems: string[]; path: string } {
  let parsed: { keyfile?: KeyFile; path: string };
  try {
    parsed = readDaemonKeyFile(path);
  } catch (e) {
    return { config: { ...previous }, problems: [`${(e as Error).message}; keeping the previous settings`], path: path ?? '' };
  }
  const { config, problems } = daemonConfigFrom(parsed.keyfile, previous, parsed.path);
  return { config, problems, path: parsed.path };
}
