/**
 * What the page shows, as data: the daemon's JSON (GetStatus, the Result
 * property of a transaction, AutomaticUpdateLastRun) checked once, here, and
 * turned into typed values. Anything malformed is an error that names the
 * field, never a half-read value.
 */

export class BadData extends Error {}

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BadData(`${what} is not an object`);
  return v as Obj;
}
function str(o: Obj, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') throw new BadData(`${what}.${k} is not a string`);
  return v;
}
function optStr(o: Obj, k: string, what: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadData(`${what}.${k} is not a string`);
  return v;
}
function num(o: Obj, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadData(`${what}.${k} is not a number`);
  return v;
}
function bool(o: Obj, k: string, what: string, dflt?: boolean): boolean {
  const v = o[k];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'boolean') throw new BadData(`${what}.${k} is not a boolean`);
  return v;
}
function strList(o: Obj, k: string, what: string): string[] {
  const v = o[k];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BadData(`${what}.${k} is not a list of strings`);
  return v as string[];
}

export interface Deployment {
  id: string;
  osname: string;
  serial: number;
  checksum: string;
  baseChecksum: string;
  origin: string | null;
  originError?: string;
  overrideCommit?: string;
  version: string | null;
  /** Seconds since the epoch. */
  timestamp: number;
  booted: boolean;
  staged: boolean;
  pinned: boolean;
  isDefault: boolean;
  rollback: boolean;
  requestedPackages: string[];
  /** Layered packages present in the deployment. */
  packages: string[];
  localPackages: string[];
  baseRemovals: string[];
  baseReplacements: string[];
  kargs: string[];
}

export interface LastRun {
  started?: string;
  finished?: string;
  mode?: string;
  result?: string;
  message?: string;
}

export interface AvailableUpdate {
  checksum: string;
  version?: string;
  timestamp?: number;
}

export interface ActiveTransaction {
  title: string;
  initiator: string;
  path: string;
  state: string;
}

export interface Status {
  deployments: Deployment[];
  transaction: ActiveTransaction | null;
  policy: string;
  scope: string;
  lastRun: LastRun | null;
  available: AvailableUpdate | null;
}

function parseDeployment(v: unknown, i: number): Deployment {
  const w = `deployments[${i}]`;
  const o = obj(v, w);
  const origin = o.origin === null ? null : str(o, 'origin', w);
  const d: Deployment = {
    id: str(o, 'id', w),
    osname: str(o, 'osname', w),
    serial: num(o, 'serial', w),
    checksum: str(o, 'checksum', w),
    baseChecksum: optStr(o, 'base-checksum', w) ?? str(o, 'checksum', w),
    origin,
    version: o.version === null || o.version === undefined ? null : str(o, 'version', w),
    timestamp: num(o, 'timestamp', w),
    booted: bool(o, 'booted', w),
    staged: bool(o, 'staged', w, false),
    pinned: bool(o, 'pinned', w, false),
    isDefault: bool(o, 'default', w, i === 0),
    rollback: bool(o, 'rollback', w, false),
    requestedPackages: strList(o, 'requested-packages', w),
    packages: strList(o, 'packages', w),
    localPackages: strList(o, 'requested-local-packages', w),
    baseRemovals: strList(o, 'requested-base-removals', w),
    baseReplacements: strList(o, 'requested-base-local-replacements', w),
    kargs: strList(o, 'kargs', w),
  };
  const oc = optStr(o, 'override-commit', w);
  if (oc) d.overrideCommit = oc;
  const oe = optStr(o, 'origin-error', w);
  if (oe) d.originError = oe;
  if (!/^[0-9a-f]{64}$/.test(d.checksum)) throw new BadData(`${w}.checksum is not a commit checksum`);
  return d;
}

export function parseLastRun(v: unknown): LastRun | null {
  if (v === null || v === undefined || v === '') return null;
  const o = obj(typeof v === 'string' ? (JSON.parse(v) as unknown) : v, 'last-run');
  const r: LastRun = {};
  for (const k of ['started', 'finished', 'mode', 'result', 'message'] as const) {
    const s = optStr(o, k, 'last-run');
    if (s !== undefined) r[k] = s;
  }
  return r;
}

function parseTransaction(v: unknown): ActiveTransaction | null {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v) || typeof v[0] !== 'string') throw new BadData('transaction is not [title, initiator, path, state]');
  const s = (x: unknown): string => (typeof x === 'string' ? x : '');
  return { title: v[0], initiator: s(v[1]), path: s(v[2]), state: s(v[3]) };
}

function parseAvailable(v: unknown): AvailableUpdate | null {
  if (v === null || v === undefined) return null;
  const o = obj(v, 'cached-update');
  const a: AvailableUpdate = { checksum: str(o, 'checksum', 'cached-update') };
  const version = optStr(o, 'version', 'cached-update');
  if (version !== undefined) a.version = version;
  if (typeof o.timestamp === 'number') a.timestamp = o.timestamp;
  return a;
}

/** GetStatus's JSON (the shape of `apt-ostree status --json`). */
export function parseStatus(text: string): Status {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BadData(`the status is not JSON (${(e as Error).message})`);
  }
  const o = obj(raw, 'status');
  if (!Array.isArray(o.deployments)) throw new BadData('status.deployments is not a list');
  const auto =
    o['automatic-updates'] === undefined || o['automatic-updates'] === null ? {} : obj(o['automatic-updates'], 'automatic-updates');
  return {
    deployments: o.deployments.map(parseDeployment),
    transaction: parseTransaction(o.transaction),
    policy: optStr(auto, 'policy', 'automatic-updates') ?? 'none',
    scope: optStr(auto, 'scope', 'automatic-updates') ?? 'full',
    lastRun: parseLastRun(auto['last-run']),
    available: parseAvailable(o['cached-update']),
  };
}

/** The Result property of a finished transaction. */
export interface TransactionResult {
  success: boolean;
  changed: boolean;
  summary: string;
  deployment?: string;
  rebootRequested: boolean;
  error?: string;
  code?: string;
  hint?: string;
}

export function parseResult(text: string): TransactionResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BadData(`the transaction's Result is not JSON (${(e as Error).message})`);
  }
  const o = obj(raw, 'Result');
  const r: TransactionResult = {
    success: bool(o, 'success', 'Result'),
    changed: bool(o, 'changed', 'Result', false),
    summary: optStr(o, 'summary', 'Result') ?? '',
    rebootRequested: bool(o, 'rebootRequested', 'Result', false),
  };
  for (const k of ['deployment', 'error', 'code', 'hint'] as const) {
    const s = optStr(o, k, 'Result');
    if (s !== undefined) r[k] = s;
  }
  return r;
}

/** Labels of a deployment, as the status command marks them. */
export function deploymentLabels(d: Deployment, all: Deployment[]): string[] {
  const labels: string[] = [];
  const anyBooted = all.some((x) => x.booted);
  if (d.booted) labels.push('Booted');
  if (d.staged) labels.push('Staged');
  if (d.isDefault && !d.booted && (anyBooted || all.length > 1)) labels.push('Pending');
  if (d.rollback) labels.push('Rollback');
  if (d.pinned) labels.push('Pinned');
  return labels;
}

/** The deployment the next boot starts when it is not the running one. */
export function pendingDeployment(st: Status): Deployment | undefined {
  return st.deployments.find((d) => deploymentLabels(d, st.deployments).includes('Pending'));
}

/** Kernel argument edits that turn `from` into `to` (as ModifyKernelArgs takes them). */
export function kargsDiff(from: string[], to: string[]): { append: string[]; remove: string[] } {
  const left = new Set(from);
  const right = new Set(to);
  return { append: to.filter((k) => !left.has(k)), remove: from.filter((k) => !right.has(k)) };
}

/** Split a user's text into words (package names, kernel arguments), keeping "quoted values" together. */
export function words(text: string): string[] {
  return text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}
