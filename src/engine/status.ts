/**
 * The status of a sysroot as data: rpm-ostree's `status --json` shape, which
 * the CLI renders (or prints) and the daemon serves as GetStatus.
 */
import {
  automaticStatusJson,
  automaticStatusOf,
  formatAutomaticStatus,
  parsePolicy,
  parseScope,
  type AutomaticConfig,
  type AutomaticLastRun,
  type AutomaticStatus,
  type AvailableUpdate,
} from './automatic';
import { readLiveState } from './live-state';
import { META_PACKAGES, META_REMOVED_BASE_PACKAGES, META_REPLACED_BASE_PACKAGES } from './ostree/metadata';
import { commitInfo, type MetadataValue } from './ostree/native';
import { loadSysroot, type Deployment, type Sysroot, type UnlockedState } from './sysroot';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface DeploymentJson {
  /** OSNAME-CHECKSUM.SERIAL */
  id: string;
  osname: string;
  serial: number;
  checksum: string;
  /** The base commit of a layered deployment (absent when the deployment is its own base, as in rpm-ostree). */
  'base-checksum'?: string;
  /** Origin refspec ([origin] refspec or baserefspec), null when the deployment has no origin. */
  origin: string | null;
  /** A specific revision of the refspec deployed (deploy REVISION), else absent. */
  'override-commit'?: string;
  version: string | null;
  /** Of the base commit, seconds since the epoch. */
  timestamp: number;
  booted: boolean;
  staged: boolean;
  pinned: boolean;
  /** OSTree's unlocked state (ostree admin unlock / usroverlay, apply-live): none, development, hotfix, transient. */
  unlocked: UnlockedState;
  /** The commit an apply-live was making live when it was interrupted (booted deployment only). */
  'live-inprogress'?: string;
  /** The commit whose /usr is live (apply-live; booted deployment only). */
  'live-replaced'?: string;
  /** apt-ostree addition: what apply-live changed in the running system, relative to the booted commit. */
  'live-changes'?: { added: string[]; changed: string[]; removed: string[]; etc: string[] };
  'requested-packages': string[];
  'requested-local-packages': string[];
  /** Layered packages present in the deployment. */
  packages: string[];
  'requested-base-removals': string[];
  'base-removals': string[];
  'requested-base-local-replacements': string[];
  'base-local-replacements': string[];
  'regenerate-initramfs': boolean;
  'initramfs-args': string[];
  /** Kernel arguments of the boot entry (apt-ostree addition). */
  kargs: string[];
  /** Metadata of the base commit. */
  'base-commit-meta': Record<string, JsonValue>;
  /** Metadata of the client-layered commit (layered deployments only). */
  'layered-commit-meta'?: Record<string, JsonValue>;
  /** The base commit's ostree.endoflife message (the OS version is no longer supported), else absent. */
  endoflife?: string;
  /** apt-ostree additions (what the text rendering needs): the next boot's deployment. */
  default: boolean;
  /** The deployment a rollback would boot. */
  rollback: boolean;
  /** Its checked-out tree. */
  'deploy-path': string;
  /** Why the origin file could not be read (origin is then null), else absent. */
  'origin-error'?: string;
}

export interface StatusJson {
  deployments: DeploymentJson[];
  /** The transaction in progress: [title, client address] in rpm-ostree; filled by the daemon. */
  transaction: JsonValue;
  /** Automatic updates: policy and scope in force, last run ({policy, scope, last-run}). */
  'automatic-updates'?: JsonValue;
  /** The update the last automatic `check` run found (rpm-ostree's cached-update), or null. */
  'cached-update'?: JsonValue;
}

export interface StatusOptions {
  /** Only the booted deployment. */
  booted?: boolean;
  /** Automatic update policy in force (the daemon's); default: read from the configuration file. */
  automatic?: AutomaticConfig;
}

function toJsonValue(v: MetadataValue): JsonValue {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

function metaToJson(m: Record<string, MetadataValue>): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  // The package list is long and has its own command (`db list`): keep status readable.
  for (const [k, v] of Object.entries(m)) if (k !== META_PACKAGES) out[k] = toJsonValue(v);
  return out;
}

/**
 * Local replacements as rpm-ostree shows them, "NAME BASEVERSION -> VERSION", from
 * what the layered commit records it replaced; the origin's NAME_VERSION_ARCH otherwise.
 */
function describeReplacements(nvas: string[], layeredMeta: Record<string, JsonValue> | undefined): string[] {
  const byName = new Map<string, string>();
  const raw = layeredMeta?.[META_REPLACED_BASE_PACKAGES];
  try {
    const list = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : [];
    for (const e of Array.isArray(list) ? list : []) {
      const [now, was] = Array.isArray(e) ? (e as unknown[]) : [];
      if (
        Array.isArray(now) &&
        Array.isArray(was) &&
        typeof now[0] === 'string' &&
        typeof now[1] === 'string' &&
        typeof was[1] === 'string'
      ) {
        byName.set(now[0], `${now[0]} ${was[1]} -> ${now[1]}`);
      }
    }
  } catch {
    // An unreadable record: the origin's names are shown.
  }
  return nvas.map((n) => byName.get(n.split('_')[0]!) ?? n);
}

/** libostree's commit metadata key for an end-of-life message (OSTREE_COMMIT_META_KEY_ENDOFLIFE). */
const META_ENDOFLIFE = 'ostree.endoflife';

/** Names of the packages a commit records in META_PACKAGES, if it does. */
function packageNames(meta: Record<string, MetadataValue>, key: string = META_PACKAGES): Set<string> | undefined {
  const raw = meta[key];
  if (typeof raw !== 'string') return undefined;
  try {
    const list = JSON.parse(raw) as unknown;
    if (!Array.isArray(list)) return undefined;
    const names = new Set<string>();
    for (const e of list) {
      if (Array.isArray(e) && typeof e[0] === 'string') names.add(e[0]);
      else if (e && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string') names.add((e as { name: string }).name);
    }
    return names;
  } catch {
    return undefined;
  }
}

export function deploymentJson(d: Deployment, baseMeta: Record<string, MetadataValue>): DeploymentJson {
  const o = d.origin;
  const layered = d.baseChecksum !== d.checksum;
  const installed = layered ? packageNames(d.commitMetadata) : undefined;
  const baseInstalled = packageNames(baseMeta);
  const removed = layered ? packageNames(d.commitMetadata, META_REMOVED_BASE_PACKAGES) : undefined;
  const requested = o?.requestedPackages ?? [];
  const removals = o?.overrideRemove ?? [];
  const replacements = (o?.overrideReplaceLocal ?? []).map((r) => r.nva);
  const j: DeploymentJson = {
    id: `${d.osname}-${d.checksum}.${d.serial}`,
    osname: d.osname,
    serial: d.serial,
    checksum: d.checksum,
    origin: o?.refspec ?? null,
    version: d.version ?? null,
    timestamp: d.timestamp,
    booted: d.booted,
    staged: d.staged,
    pinned: d.pinned,
    unlocked: d.unlocked ?? 'none',
    'requested-packages': [...requested],
    'requested-local-packages': (o?.requestedLocalPackages ?? []).map((r) => r.nva),
    // What the layered commit really has: requested names it records as installed and its base did not have.
    packages: layered ? (installed ? requested.filter((p) => installed.has(p) && !(baseInstalled?.has(p) ?? false)) : [...requested]) : [],
    'requested-base-removals': [...removals],
    // Active removals only (what the layered commit records as removed from its base): a removal
    // of a package the base does not have is inactive, requested only.
    'base-removals': layered
      ? removed
        ? removals.filter((p) => removed.has(p))
        : installed
          ? removals.filter((p) => !installed.has(p))
          : [...removals]
      : [],
    'requested-base-local-replacements': [...replacements],
    'base-local-replacements': layered ? [...replacements] : [],
    'regenerate-initramfs': o?.initramfsRegenerate ?? false,
    'initramfs-args': o?.initramfsRegenerate ? [...o.initramfsArgs] : [],
    kargs: [...d.kargs],
    'base-commit-meta': metaToJson(baseMeta),
    default: d.isDefault,
    rollback: d.isRollback,
    'deploy-path': d.deployPath,
  };
  if (layered) {
    j['base-checksum'] = d.baseChecksum;
    j['layered-commit-meta'] = metaToJson(d.commitMetadata);
  }
  const eol = baseMeta[META_ENDOFLIFE] ?? d.commitMetadata[META_ENDOFLIFE];
  if (typeof eol === 'string' && eol !== '') j.endoflife = eol;
  if (o?.overrideCommit) j['override-commit'] = o.overrideCommit;
  if (!o && d.originError) j['origin-error'] = d.originError;
  const live = d.booted ? readLiveState(d) : undefined;
  if (live?.inprogress) j['live-inprogress'] = live.inprogress;
  if (live?.commit) j['live-replaced'] = live.commit;
  if (live) j['live-changes'] = { added: live.added, changed: live.changed, removed: live.removed, etc: live.etc };
  return j;
}

export function statusOfSysroot(s: Sysroot, opts: StatusOptions = {}): StatusJson {
  const list = opts.booted ? s.deployments.filter((d) => d.booted) : s.deployments;
  return {
    deployments: list.map((d) => deploymentJson(d, baseMetadata(s, d))),
    transaction: null,
    ...(automaticStatusJson(automaticStatusOf(s.path, opts.automatic)) as Record<string, JsonValue>),
  };
}

function baseMetadata(s: Sysroot, d: Deployment): Record<string, MetadataValue> {
  if (d.baseChecksum === d.checksum) return d.commitMetadata;
  try {
    return commitInfo(s.repoPath, d.baseChecksum).metadata;
  } catch {
    return {};
  }
}

/** Status of the sysroot at `sysrootPath` (what the daemon serves as GetStatus). */
export async function getStatus(sysrootPath: string, opts: StatusOptions = {}): Promise<StatusJson> {
  return statusOfSysroot(await loadSysroot(sysrootPath), opts);
}

// ---------------------------------------------------------------------------
// Human rendering (used by the CLI; pure text, no terminal knowledge)

export interface RenderOptions {
  verbose?: boolean;
  booted?: boolean;
  /** Automatic update policy in force (the daemon's); default: read from the configuration file. */
  automatic?: AutomaticConfig;
}

function isoTime(t: number): string {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The automatic-update part of a StatusJson, back as an AutomaticStatus (for the renderer). */
function automaticOfJson(st: StatusJson): AutomaticStatus {
  const a = (st['automatic-updates'] ?? {}) as Record<string, JsonValue>;
  const out: AutomaticStatus = {
    policy: parsePolicy(String(a.policy ?? '')) ?? 'none',
    scope: parseScope(String(a.scope ?? '')) ?? 'full',
  };
  const run = a['last-run'];
  if (run && typeof run === 'object' && !Array.isArray(run)) out.lastRun = run as unknown as AutomaticLastRun;
  const u = st['cached-update'];
  if (u && typeof u === 'object' && !Array.isArray(u)) {
    const c = u as Record<string, JsonValue>;
    out.availableUpdate = {
      commit: String(c.checksum),
      ...(typeof c.version === 'string' ? { version: c.version } : {}),
      timestamp: Number(c.timestamp),
      diff: c.diff as unknown as AvailableUpdate['diff'],
      securityFixes: (c['security-fixes'] ?? []) as string[],
      layered: (c.layered ?? []) as unknown as NonNullable<AvailableUpdate['layered']>,
      checked: String(c.checked),
    };
  }
  return out;
}

/** The transaction title of a StatusJson ([title, initiator, path, state] from the daemon), if any. */
function transactionTitle(t: JsonValue): string | undefined {
  if (Array.isArray(t) && typeof t[0] === 'string') return t[0];
  return undefined;
}

/**
 * rpm-ostree-like text of a status (from statusOfSysroot, or the daemon's
 * GetStatus, with all deployments), boot order, with marks.
 */
export function renderStatus(st: StatusJson, opts: RenderOptions = {}): string {
  const lines: string[] = [];
  const transaction = transactionTitle(st.transaction);
  lines.push(`State: ${transaction ? `busy (${transaction})` : 'idle'}`);
  lines.push(formatAutomaticStatus(automaticOfJson(st)));
  const all = st.deployments;
  const list = opts.booted ? all.filter((d) => d.booted) : all;
  if (list.length === 0) {
    lines.push(opts.booted ? 'No booted deployment (this sysroot is not the running system).' : 'No deployments.');
    return lines.join('\n') + '\n';
  }
  lines.push('Deployments:');
  const osnames = new Set(all.map((d) => d.osname));
  const short = (c: string): string => (opts.verbose ? c : c.slice(0, 10));
  const field = (name: string, value: string): void => {
    lines.push(`${name.padStart(22)}: ${value}`);
  };
  for (const d of list) {
    const marks: string[] = [];
    if (d.staged) marks.push('staged');
    if (d.default) marks.push('default');
    if (d.rollback) marks.push('rollback');
    if (d.pinned) marks.push('pinned');
    const title = d.origin !== null ? d.origin : `${d.checksum.slice(0, 10)} (no origin)`;
    const osPrefix = osnames.size > 1 || opts.verbose ? `${d.osname}:` : '';
    lines.push(`${d.booted ? '●' : ' '} ${osPrefix}${title}${marks.length ? ` (${marks.join(', ')})` : ''}`);
    field('Version', `${d.version ?? '(none)'} (${isoTime(d.timestamp)})`);
    const baseChecksum = d['base-checksum'];
    const layered = baseChecksum !== undefined && baseChecksum !== d.checksum;
    if (layered) {
      field('BaseCommit', short(baseChecksum));
      field('Commit', short(d.checksum));
    } else {
      field('Commit', short(d.checksum));
    }
    if (d['override-commit']) field('Revision', short(d['override-commit']));
    if (d.unlocked !== 'none') field('Unlocked', d.unlocked);
    if (d['live-inprogress']) field('InterruptedLiveCommit', short(d['live-inprogress']));
    if (d['live-replaced']) field('LiveCommit', short(d['live-replaced']));
    const lc = d['live-changes'];
    if (lc) {
      const n = (x: string[], w: string): string => `${x.length} ${w}`;
      field(
        'LiveChanges',
        `${n(lc.added, 'added')}, ${n(lc.changed, 'changed')}, ${n(lc.removed, 'removed')}, ${n(lc.etc, 'new in /etc')}`,
      );
      const files = [...lc.added, ...lc.changed].filter((p) => /\/s?bin\/[^/]+$/.test(p));
      if (files.length > 0) field('LiveCommands', files.slice(0, 10).join(' ') + (files.length > 10 ? ' …' : ''));
    }
    if (d.endoflife) field('EndOfLife', d.endoflife);
    if (opts.verbose) {
      field('Stateroot', d.osname);
      field('Deployment', d['deploy-path']);
      field('Serial', String(d.serial));
    }
    if (d.origin !== null) {
      const removals = d['requested-base-removals'];
      const replacements = d['requested-base-local-replacements'];
      const requested = d['requested-packages'];
      const local = d['requested-local-packages'];
      const active = layered ? d['base-removals'] : removals;
      const inactiveRemovals = removals.filter((p) => !active.includes(p));
      if (active.length) field('RemovedBasePackages', active.join(' '));
      if (layered && inactiveRemovals.length) field('InactiveBaseRemovals', inactiveRemovals.join(' '));
      if (replacements.length) field('LocalReplacedPackages', describeReplacements(replacements, d['layered-commit-meta']).join(', '));
      if (requested.length) field(layered ? 'LayeredPackages' : 'RequestedPackages', requested.join(' '));
      if (local.length) field('LocalPackages', local.join(' '));
      if (d['regenerate-initramfs'])
        field('Initramfs', d['initramfs-args'].length ? `regenerate (${d['initramfs-args'].join(' ')})` : 'regenerate');
      if (!layered && (requested.length || local.length || removals.length || replacements.length))
        field('Note', 'layering requested, not yet applied');
    } else if (d['origin-error']) {
      field('Origin', `unreadable: ${d['origin-error']}`);
    }
    if (opts.verbose || d.kargs.length > 0) field('KernelArguments', d.kargs.join(' ') || '(none)');
  }
  return lines.join('\n') + '\n';
}
