/**
 * Privacy-respecting usage counting, after rpm-ostree's (and libdnf's) countme.
 *
 * At most one anonymous HTTP GET per 7-day window and per configured endpoint.
 * The request carries exactly two facts:
 *   - the OS version, from the deployment's /usr/lib/os-release, in the
 *     User-Agent: `apt-ostree (ID VERSION_ID)`, e.g. `apt-ostree (debian 12)`;
 *   - an age bucket, as the query parameter `countme=N`:
 *       1  first run in this window or the one after (the system is new),
 *       2  2 to 4 windows since the first run (its first month),
 *       3  5 to 24 windows (its first six months),
 *       4  25 windows or more (older).
 * Nothing else: no machine id, no hostname, no address of its own, no cookie,
 * no Accept headers; the headers are Host (HTTP/1.1 requires it; it names the
 * server), User-Agent and Connection. The source address of the connection is
 * unavoidable and is the server's to ignore.
 *
 * Windows are fixed 7-day spans starting on Mondays 00:00 UTC (as libdnf), so
 * a server counts each system at most once per window however often it runs.
 *
 * State (JSON, under /var/lib/apt-ostree/countme, the StateDirectory of the
 * unprivileged apt-ostree-countme.service): the window of the first run (for
 * the age bucket) and, per endpoint, the last window in which a request
 * succeeded. A failed request (unreachable, HTTP error) is logged and leaves
 * the state alone, so the next run tries again; nothing else is affected.
 *
 * Opt-out: disable the timer (`systemctl disable --now apt-ostree-countme.timer`)
 * or set `[Countme] Enabled=false` in /etc/apt-ostree/apt-ostreed.conf. With no
 * `[Countme] Endpoints=` nothing is ever sent (the default).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { AptOstreeError } from './errors';
import type { KeyFile } from './keyfile';
import { log } from './log';
import { loadSysroot } from './sysroot';

export const COUNTME_WINDOW_SECONDS = 7 * 24 * 3600;
/** 1970-01-05 00:00 UTC was a Monday: windows start on Mondays. */
export const COUNTME_OFFSET_SECONDS = 4 * 24 * 3600;
/** Windows since the first run at which the age bucket steps up: 2, 5, 25. */
const BUCKET_THRESHOLDS = [2, 5, 25] as const;

export type AgeBucket = 1 | 2 | 3 | 4;

export interface CountmeConfig {
  /** `[Countme] Enabled=` (default true; nothing is sent without endpoints anyway). */
  enabled: boolean;
  /** `[Countme] Endpoints=` http(s) URLs, `;`-separated (default: none). */
  endpoints: string[];
}

export const DEFAULT_COUNTME_CONFIG: CountmeConfig = { enabled: true, endpoints: [] };

/** Read the `[Countme]` group of apt-ostreed.conf; invalid values are errors naming key and value. */
export function parseCountmeConfig(kf: KeyFile, source = 'apt-ostreed.conf'): CountmeConfig {
  const enabled = kf.getBoolean('Countme', 'Enabled', source) ?? true;
  const endpoints = (kf.getStringList('Countme', 'Endpoints') ?? []).map((s) => s.trim()).filter((s) => s !== '');
  for (const e of endpoints) validateEndpoint(e, source);
  return { enabled, endpoints };
}

export function validateEndpoint(url: string, source = 'configuration'): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AptOstreeError('invalid-config', `${source}: [Countme] Endpoints: "${url}" is not a URL`, {
      hint: 'give http:// or https:// URLs separated by ";"',
    });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new AptOstreeError('invalid-config', `${source}: [Countme] Endpoints: "${url}" is not http or https`);
  }
  if (u.username !== '' || u.password !== '') {
    throw new AptOstreeError(
      'invalid-config',
      `${source}: [Countme] Endpoints: "${u.host}" carries credentials; they would identify this system`,
    );
  }
  return u;
}

export function windowIndex(t: Date): number {
  return Math.floor((Math.floor(t.getTime() / 1000) - COUNTME_OFFSET_SECONDS) / COUNTME_WINDOW_SECONDS);
}

export function windowStart(index: number): Date {
  return new Date((index * COUNTME_WINDOW_SECONDS + COUNTME_OFFSET_SECONDS) * 1000);
}

export function ageBucket(firstWindow: number, currentWindow: number): AgeBucket {
  const step = Math.max(0, currentWindow - firstWindow);
  let bucket = 1;
  for (const t of BUCKET_THRESHOLDS) {
    if (step < t) break;
    bucket++;
  }
  return bucket as AgeBucket;
}

/** The OS version part of the User-Agent, from os-release text: "ID VERSION_ID". */
export function osVersionFromOsRelease(text: string): string {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$/.test(v) || /^'.*'$/.test(v)) v = v.slice(1, -1);
    fields.set(m[1]!, v);
  }
  // Only harmless characters: nothing in os-release can smuggle more into the header.
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._+~-]/g, '');
  const id = clean(fields.get('ID') ?? 'linux') || 'linux';
  const version = clean(fields.get('VERSION_ID') ?? fields.get('VERSION_CODENAME') ?? '') || 'unknown';
  return `${id} ${version}`;
}

export function userAgent(osVersion: string): string {
  return `apt-ostree (${osVersion})`;
}

interface EndpointState {
  /** Last window in which a request to this endpoint succeeded. */
  lastWindow: number;
}

export interface CountmeState {
  version: 1;
  /** Window of the first run: the start of the system's age. */
  firstWindow: number;
  endpoints: Record<string, EndpointState>;
}

const STATE_FILE = 'countme.json';

export function readCountmeState(stateDir: string): CountmeState | undefined {
  let text: string;
  try {
    text = readFileSync(join(stateDir, STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AptOstreeError('internal', `cannot read countme state in ${stateDir}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) throw new Error('not an object');
    const o = v as Record<string, unknown>;
    if (typeof o.firstWindow !== 'number' || !Number.isInteger(o.firstWindow)) throw new Error('no firstWindow');
    const endpoints: Record<string, EndpointState> = {};
    if (typeof o.endpoints === 'object' && o.endpoints !== null) {
      for (const [k, e] of Object.entries(o.endpoints as Record<string, unknown>)) {
        const lw = (e as Record<string, unknown> | null)?.lastWindow;
        if (typeof lw === 'number' && Number.isInteger(lw)) endpoints[k] = { lastWindow: lw };
      }
    }
    return { version: 1, firstWindow: o.firstWindow, endpoints };
  } catch (e) {
    // A damaged state file is not worth failing over: start again (the age resets).
    log.warning(`countme: ignoring damaged state file ${join(stateDir, STATE_FILE)}: ${(e as Error).message}`);
    return undefined;
  }
}

export function writeCountmeState(stateDir: string, state: CountmeState): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const path = join(stateDir, STATE_FILE);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, path);
}

export interface CountmeOptions {
  config: CountmeConfig;
  /** Text of the deployment's /usr/lib/os-release. */
  osRelease: string;
  stateDir: string;
  /** Injectable clock (tests). */
  now?: () => Date;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type EndpointOutcome =
  | { endpoint: string; result: 'sent'; status: number; bucket: AgeBucket }
  | { endpoint: string; result: 'skipped'; reason: string }
  | { endpoint: string; result: 'failed'; error: string };

export interface CountmeReport {
  /** Why nothing was attempted at all, if so. */
  disabled?: string;
  window: number;
  outcomes: EndpointOutcome[];
}

/** Send what is due in the current window; never throws for network trouble. */
export async function runCountme(opts: CountmeOptions): Promise<CountmeReport> {
  const now = (opts.now ?? (() => new Date()))();
  const window = windowIndex(now);
  if (!opts.config.enabled) return { disabled: 'disabled by [Countme] Enabled=false', window, outcomes: [] };
  if (opts.config.endpoints.length === 0) return { disabled: 'no [Countme] Endpoints configured', window, outcomes: [] };

  const previous = readCountmeState(opts.stateDir);
  const state: CountmeState = previous ?? { version: 1, firstWindow: window, endpoints: {} };
  if (state.firstWindow > window) state.firstWindow = window; // clock went back: keep it sane
  const bucket = ageBucket(state.firstWindow, window);
  const ua = userAgent(osVersionFromOsRelease(opts.osRelease));
  const outcomes: EndpointOutcome[] = [];
  for (const endpoint of opts.config.endpoints) {
    const last = state.endpoints[endpoint]?.lastWindow;
    if (last !== undefined && last >= window) {
      outcomes.push({ endpoint, result: 'skipped', reason: `already counted in the window starting ${windowStart(window).toISOString()}` });
      continue;
    }
    try {
      const status = await sendCountme(endpoint, bucket, ua, opts.timeoutMs ?? 30000, opts.signal);
      state.endpoints[endpoint] = { lastWindow: window };
      outcomes.push({ endpoint, result: 'sent', status, bucket });
      log.info(`countme: counted at ${safeEndpointName(endpoint)} (countme=${bucket}, HTTP ${status})`);
    } catch (e) {
      const error = (e as Error).message;
      outcomes.push({ endpoint, result: 'failed', error });
      log.warning(`countme: request to ${safeEndpointName(endpoint)} failed: ${error}; trying again at the next run`);
    }
  }
  writeCountmeState(opts.stateDir, state);
  return { window, outcomes };
}

function safeEndpointName(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return endpoint;
  }
}

/** The URL actually requested: the endpoint with `countme=N` added to its query. */
export function countmeUrl(endpoint: string, bucket: AgeBucket): URL {
  const u = validateEndpoint(endpoint);
  u.hash = '';
  u.searchParams.set('countme', String(bucket));
  return u;
}

/**
 * One GET with exactly Host, User-Agent and Connection headers: node:http is
 * used rather than fetch() because fetch adds headers of its own
 * (accept-language, sec-fetch-mode, accept-encoding).
 */
async function sendCountme(endpoint: string, bucket: AgeBucket, ua: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const u = countmeUrl(endpoint, bucket);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        protocol: u.protocol,
        hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: u.port === '' ? undefined : Number(u.port),
        method: 'GET',
        path: `${u.pathname}${u.search}`,
        agent: false,
        headers: { 'User-Agent': ua, Connection: 'close' },
        signal,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume(); // the body does not matter
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 400) resolve(status);
          else reject(new Error(`HTTP ${status}`));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The os-release text of the deployment whose OS is counted: on the running
 * system ("/") its own /usr/lib/os-release; for another sysroot, the booted
 * deployment's, or else the default deployment's.
 */
export async function readOsReleaseFor(sysrootPath: string): Promise<string> {
  const abs = resolve(sysrootPath);
  let roots: string[];
  if (abs === '/') roots = ['/'];
  else {
    const s = await loadSysroot(abs);
    const d = s.booted ?? s.defaultDeployment;
    if (!d) throw new AptOstreeError('not-found', `the sysroot ${abs} has no deployment to count`);
    roots = [d.deployPath];
  }
  for (const root of roots) {
    for (const rel of ['usr/lib/os-release', 'etc/os-release']) {
      try {
        return readFileSync(join(root, rel), 'utf8');
      } catch {
        /* try the next */
      }
    }
  }
  throw new AptOstreeError('not-found', `no os-release file in ${roots.join(', ')}`, {
    hint: 'the OS tree should ship /usr/lib/os-release',
  });
}
