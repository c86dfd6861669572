/**
 * The D-Bus contract of apt-ostreed, in one place: names, the introspection
 * of both interfaces, error names, the polkit action of each method, and the
 * single mapping between an engine `OperationRequest` and a method call with
 * its `a{sv}` options. The daemon decodes (and validates, once, at the edge);
 * the client encodes. Nothing here loads a D-Bus library.
 *
 * Option keys are the CLI's long option names ("dry-run", "cache-only", ...).
 * An unknown key, a value of the wrong type, a bad package name or an array
 * that is too long is an error, never ignored.
 */
import { isAbsolute, resolve } from 'node:path';
import { AptOstreeError, type ErrorCode } from '../engine/errors';
import type { CleanupTarget, OperationRequest, UpgradeOptions } from '../engine/operations/types';

export const BUS_NAME = 'org.aptostree.dev';
export const OBJECT_PATH = '/org/aptostree/dev';
export const DAEMON_IFACE = 'org.aptostree.dev.Daemon';
export const TRANSACTION_IFACE = 'org.aptostree.dev.Transaction';
export const TRANSACTION_PATH_PREFIX = '/org/aptostree/dev/transaction/';
export const ERROR_PREFIX = 'org.aptostree.dev.Error.';
export const ACCESS_DENIED = 'org.freedesktop.DBus.Error.AccessDenied';
export const INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs';
export const UNKNOWN_METHOD = 'org.freedesktop.DBus.Error.UnknownMethod';
export const POLKIT_PREFIX = 'org.aptostree.dev.';

// ---------------------------------------------------------------------------
// Limits on what a caller may send

export const MAX_LIST = 512;
export const MAX_STRING = 4096;
export const MAX_NAME = 256;

// ---------------------------------------------------------------------------
// Errors: engine error code <-> D-Bus error name

const ERROR_NAMES: Record<ErrorCode, string> = {
  usage: `${ERROR_PREFIX}InvalidArguments`,
  'invalid-config': `${ERROR_PREFIX}InvalidConfig`,
  'not-found': `${ERROR_PREFIX}NotFound`,
  'not-a-sysroot': `${ERROR_PREFIX}NotASysroot`,
  ostree: `${ERROR_PREFIX}Ostree`,
  apt: `${ERROR_PREFIX}Apt`,
  dpkg: `${ERROR_PREFIX}Dpkg`,
  network: `${ERROR_PREFIX}Network`,
  busy: `${ERROR_PREFIX}Busy`,
  cancelled: `${ERROR_PREFIX}Cancelled`,
  denied: ACCESS_DENIED,
  'not-implemented': `${ERROR_PREFIX}NotImplemented`,
  'no-change': `${ERROR_PREFIX}NoChange`,
  internal: `${ERROR_PREFIX}Failed`,
};

export function errorNameOf(code: ErrorCode): string {
  return ERROR_NAMES[code];
}

export function errorCodeOf(name: string): ErrorCode {
  for (const [code, n] of Object.entries(ERROR_NAMES)) if (n === name) return code as ErrorCode;
  if (name === INVALID_ARGS) return 'usage';
  if (name === 'org.freedesktop.DBus.Error.ServiceUnknown' || name === 'org.freedesktop.DBus.Error.NameHasNoOwner') return 'not-found';
  return 'internal';
}

// ---------------------------------------------------------------------------
// Introspection data of both interfaces (the daemon serves it; tests read it)

export interface ArgSpec {
  name: string;
  type: string;
}
export interface MethodSpec {
  name: string;
  in: ArgSpec[];
  out: ArgSpec[];
}
export interface PropertySpec {
  name: string;
  type: string;
}
export interface SignalSpec {
  name: string;
  args: ArgSpec[];
}
export interface InterfaceSpec {
  name: string;
  methods: MethodSpec[];
  properties: PropertySpec[];
  signals: SignalSpec[];
}

const a = (name: string, type: string): ArgSpec => ({ name, type });
const OPTS = a('options', 'a{sv}');
const TX = a('transaction', 'o');

export const DAEMON_INTERFACE: InterfaceSpec = {
  name: DAEMON_IFACE,
  methods: [
    { name: 'Ping', in: [], out: [a('reply', 's')] },
    { name: 'GetStatus', in: [], out: [a('status', 's')] },
    { name: 'InstallPackages', in: [a('packages', 'as'), OPTS], out: [TX] },
    { name: 'RemovePackages', in: [a('packages', 'as'), OPTS], out: [TX] },
    { name: 'UpdateOverrides', in: [a('remove', 'as'), a('replace_local', 'as'), a('reset', 'as'), OPTS], out: [TX] },
    { name: 'Reset', in: [OPTS], out: [TX] },
    { name: 'RefreshMd', in: [OPTS], out: [TX] },
    { name: 'UpgradeSystem', in: [OPTS], out: [TX] },
    { name: 'DeployCommit', in: [a('revision', 's'), OPTS], out: [TX] },
    { name: 'Rebase', in: [a('refspec', 's'), OPTS], out: [TX] },
    { name: 'Rollback', in: [OPTS], out: [TX] },
    { name: 'ModifyKernelArgs', in: [a('append', 'as'), a('delete', 'as'), a('replace', 'as'), OPTS], out: [TX] },
    { name: 'SetInitramfsState', in: [a('regenerate', 'b'), a('args', 'as'), OPTS], out: [TX] },
    { name: 'Cleanup', in: [a('what', 'as'), OPTS], out: [TX] },
    { name: 'PinDeployment', in: [a('index', 'i'), OPTS], out: [TX] },
    // (false, "/") when the policy in force (or the "mode" option) is none: no transaction.
    { name: 'AutomaticUpdateTrigger', in: [OPTS], out: [a('enabled', 'b'), TX] },
    // The problems found in the configuration (each names key and value; the previous value is kept).
    { name: 'Reload', in: [], out: [a('problems', 'as')] },
    { name: 'CancelActive', in: [], out: [a('cancelled', 'o')] },
  ],
  properties: [
    { name: 'Sysroot', type: 's' },
    { name: 'Booted', type: 's' },
    { name: 'ActiveTransaction', type: 'o' },
    { name: 'AutomaticUpdatePolicy', type: 's' },
    { name: 'AutomaticUpdateScope', type: 's' },
    // JSON of the last automatic update run (started, finished, mode, scope, result, message), or "".
    { name: 'AutomaticUpdateLastRun', type: 's' },
    { name: 'Version', type: 's' },
  ],
  signals: [],
};

export const TRANSACTION_INTERFACE: InterfaceSpec = {
  name: TRANSACTION_IFACE,
  methods: [
    { name: 'Start', in: [], out: [a('started', 'b')] },
    { name: 'Cancel', in: [], out: [] },
  ],
  properties: [
    { name: 'Title', type: 's' },
    { name: 'Method', type: 's' },
    { name: 'InitiatingClient', type: 's' },
    { name: 'State', type: 's' },
    { name: 'Result', type: 's' },
  ],
  signals: [
    { name: 'Message', args: [a('text', 's')] },
    { name: 'TaskBegin', args: [a('name', 's')] },
    { name: 'TaskEnd', args: [a('summary', 's')] },
    { name: 'PercentProgress', args: [a('text', 's'), a('percent', 'u')] },
    { name: 'DownloadProgress', args: [a('done_bytes', 't'), a('total_bytes', 't')] },
    { name: 'Finished', args: [a('success', 'b'), a('error', 's')] },
  ],
};

/** The states of a transaction, in the State property. */
export type TransactionState = 'created' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** The Result property (JSON) once a transaction is over. */
export interface TransactionResult {
  success: boolean;
  changed: boolean;
  summary: string;
  deployment?: string;
  rebootRequested?: boolean;
  /** On failure. */
  error?: string;
  code?: ErrorCode;
}

// ---------------------------------------------------------------------------
// Values as they cross the bus: a variant is { signature, value } (dbus-next's shape)

export interface WireVariant {
  signature: string;
  value: unknown;
}

type OptType = 'b' | 's' | 'as' | 'i';

interface OptSpec {
  type: OptType;
  /** Checks a value beyond its type; returns an error text or undefined. */
  check?: (v: unknown) => string | undefined;
}

const oneOf =
  (...allowed: string[]) =>
  (v: unknown): string | undefined =>
    allowed.includes(v as string) ? undefined : `must be one of ${allowed.join(', ')}`;

const DEPLOY_KEYS: Record<string, OptSpec> = { 'dry-run': { type: 'b' }, 'cache-only': { type: 'b' }, reboot: { type: 'b' } };
const QUEUE: Record<string, OptSpec> = { queue: { type: 'b' } };
const UPGRADE_KEYS: Record<string, OptSpec> = {
  ...DEPLOY_KEYS,
  check: { type: 'b' },
  preview: { type: 'b' },
  'download-only': { type: 'b' },
  'allow-downgrade': { type: 'b' },
};

/** The options each changing method accepts (besides "queue", accepted by all). */
export const METHOD_OPTIONS: Record<string, Record<string, OptSpec>> = {
  InstallPackages: { ...DEPLOY_KEYS, idempotent: { type: 'b' }, 'allow-inactive': { type: 'b' } },
  RemovePackages: { ...DEPLOY_KEYS, idempotent: { type: 'b' }, 'allow-inactive': { type: 'b' }, all: { type: 'b' } },
  UpdateOverrides: { ...DEPLOY_KEYS, 'reset-all': { type: 'b' } },
  Reset: { ...DEPLOY_KEYS },
  RefreshMd: { force: { type: 'b' } },
  UpgradeSystem: { ...UPGRADE_KEYS },
  DeployCommit: { ...UPGRADE_KEYS },
  Rebase: { ...UPGRADE_KEYS },
  Rollback: { reboot: { type: 'b' } },
  ModifyKernelArgs: {
    reboot: { type: 'b' },
    'append-if-missing': { type: 'as' },
    'delete-if-present': { type: 'as' },
    set: { type: 'as' },
  },
  SetInitramfsState: { reboot: { type: 'b' } },
  Cleanup: {},
  PinDeployment: { unpin: { type: 'b' } },
  AutomaticUpdateTrigger: {
    mode: { type: 's', check: oneOf('none', 'check', 'stage') },
    scope: { type: 's', check: oneOf('full', 'security') },
  },
};

/** polkit action of each method (prefixed with org.aptostree.dev.). Methods not listed are open to all. */
export const METHOD_ACTIONS: Record<string, string> = {
  InstallPackages: 'install-packages',
  RemovePackages: 'remove-packages',
  UpdateOverrides: 'override',
  Reset: 'reset',
  RefreshMd: 'refresh-md',
  UpgradeSystem: 'upgrade-system',
  DeployCommit: 'deploy',
  Rebase: 'rebase',
  Rollback: 'rollback',
  ModifyKernelArgs: 'modify-kernel-args',
  SetInitramfsState: 'initramfs',
  Cleanup: 'cleanup',
  PinDeployment: 'deploy',
  AutomaticUpdateTrigger: 'upgrade-system',
  Reload: 'reload-daemon',
  CancelActive: 'cancel',
  Cancel: 'cancel',
};

/** Every polkit action the daemon checks (the shipped policy declares each). */
export const POLKIT_ACTIONS: readonly string[] = [...new Set(Object.values(METHOD_ACTIONS))].map((x) => `${POLKIT_PREFIX}${x}`);

/** A decoded, validated call: the request, and whether it may wait its turn. */
export interface DecodedCall {
  request: OperationRequest;
  queue: boolean;
}

/** A call to send: method, body (options as a plain record of variants). */
export interface EncodedCall {
  method: string;
  signature: string;
  args: unknown[];
  options: Record<string, WireVariant>;
}

// ---------------------------------------------------------------------------
// Validation helpers

function bad(message: string, hint?: string): AptOstreeError {
  return new AptOstreeError('usage', message, { hint });
}

function hasControl(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(s);
}

function checkString(what: string, s: unknown, max = MAX_STRING): string {
  if (typeof s !== 'string') throw bad(`${what} must be a string`);
  if (s.length > max) throw bad(`${what} is too long (${s.length} characters; at most ${max})`);
  if (hasControl(s)) throw bad(`${what} contains control characters`);
  return s;
}

function checkList(what: string, l: unknown, itemMax = MAX_STRING): string[] {
  if (!Array.isArray(l)) throw bad(`${what} must be a list of strings`);
  if (l.length > MAX_LIST) throw bad(`too many ${what} (${l.length}; at most ${MAX_LIST})`);
  return l.map((x, i) => checkString(`${what}[${i}]`, x, itemMax));
}

/** Debian package name (policy 5.6.1), optionally ":ARCH". Same rule as the layering engine. */
export function isPackageName(s: string): boolean {
  const m = /^([a-z0-9][a-z0-9+.-]+)(?::([a-z0-9][a-z0-9-]*))?$/.exec(s);
  return m !== null;
}

/** A package argument over the bus: a package name, or the absolute path of a .deb file. */
function checkPackages(what: string, l: unknown, allowLocal: boolean): string[] {
  const list = checkList(what, l, MAX_NAME * 4);
  for (const p of list) {
    if (allowLocal && p.endsWith('.deb')) {
      if (!isAbsolute(p)) throw bad(`"${p}": a local package must be given by its absolute path`);
      continue;
    }
    if (p.length > MAX_NAME || !isPackageName(p)) {
      throw bad(
        `"${p.length > 80 ? `${p.slice(0, 80)}...` : p}" is not a valid package name`,
        'package names are lower-case letters, digits and + - . (e.g. "libfoo1")',
      );
    }
  }
  return list;
}

function checkDebs(what: string, l: unknown): string[] {
  const list = checkList(what, l);
  for (const p of list) if (!p.endsWith('.deb') || !isAbsolute(p)) throw bad(`"${p}" is not the absolute path of a .deb file`);
  return list;
}

function checkKargs(what: string, l: unknown): string[] {
  const list = checkList(what, l);
  for (const k of list) {
    // Blanks outside quotes, unbalanced quotes, or no key: not one argument (the engine's isValidKarg agrees).
    const unbalanced = (k.split('"').length - 1) % 2 !== 0;
    if (k === '' || k.startsWith('=') || unbalanced || /\s/.test(k.replace(/"[^"]*"/g, '')))
      throw bad(`"${k}" is not one kernel argument (${what})`);
  }
  return list;
}

function checkToken(what: string, s: unknown): string {
  const v = checkString(what, s, 1024);
  if (v === '' || /\s/.test(v)) throw bad(`${what} "${v}" is empty or contains spaces`);
  return v;
}

/** A commit checksum, version=VERSION or revision=CHECKSUM (what DeployCommit deploys). */
function checkRevision(s: unknown): string {
  const v = checkToken('revision', s);
  if (!/^(?:(?:revision=)?[0-9a-f]{64}|version=[^\n]+)$/.test(v)) {
    throw bad(`"${v.slice(0, 80)}" is not a revision`, 'give a full commit checksum (64 hex digits) or version=VERSION');
  }
  return v;
}

/** One OSTree ref component, as libostree accepts it. */
const REF_COMPONENT = '[A-Za-z0-9_][-._A-Za-z0-9]*';
const REFSPEC_RE = new RegExp(`^(?:${REF_COMPONENT}:)?(?:${REF_COMPONENT}(?:/${REF_COMPONENT})*)?$`);

/** [REMOTE:]REF, or REF, or REMOTE: (what Rebase takes). */
function checkRefspec(s: unknown): string {
  const v = checkToken('refspec', s);
  if (v === ':' || !REFSPEC_RE.test(v))
    throw bad(`"${v.slice(0, 80)}" is not a refspec`, 'give [REMOTE:]REF, e.g. debian:debian/13/x86_64/base');
  return v;
}

const CLEANUP_TARGETS: readonly CleanupTarget[] = ['pending', 'rollback', 'base', 'repomd'];

/**
 * Check an `a{sv}` against what `method` accepts: every key known, every
 * value of its type. Returns the options as plain values.
 */
export function decodeOptions(method: string, raw: unknown): Map<string, unknown> {
  const spec = METHOD_OPTIONS[method];
  if (spec === undefined) throw bad(`${method} takes no options`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || Object.getPrototypeOf(raw) !== Object.prototype) {
    throw bad(`the options of ${method} are not a dictionary of variants (a{sv}), or carry a reserved key`);
  }
  const out = new Map<string, unknown>();
  const known = { ...spec, ...QUEUE };
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const s = known[key];
    if (s === undefined) {
      throw bad(
        `unknown option "${key.length > 64 ? `${key.slice(0, 64)}...` : key}" for ${method}`,
        `${method} accepts: ${Object.keys(known).sort().join(', ')}`,
      );
    }
    const variant = v as Partial<WireVariant> | null;
    if (variant === null || typeof variant !== 'object' || variant.signature !== s.type) {
      throw bad(
        `option "${key}" of ${method} must be of type ${s.type}${variant && typeof variant.signature === 'string' ? ` (got ${variant.signature})` : ''}`,
      );
    }
    let value: unknown = variant.value;
    if (s.type === 'as') value = checkList(`option "${key}"`, value);
    else if (s.type === 's') value = checkString(`option "${key}"`, value);
    const problem = s.check?.(value);
    if (problem) throw bad(`option "${key}" of ${method} ${problem}`);
    out.set(key, value);
  }
  return out;
}

const flag = (o: Map<string, unknown>, k: string): boolean => o.get(k) === true;

function deployOpts(o: Map<string, unknown>): { dryRun: boolean; cacheOnly: boolean; reboot: boolean } {
  return { dryRun: flag(o, 'dry-run'), cacheOnly: flag(o, 'cache-only'), reboot: flag(o, 'reboot') };
}

function upgradeOpts(o: Map<string, unknown>): UpgradeOptions {
  return {
    ...deployOpts(o),
    check: flag(o, 'check'),
    preview: flag(o, 'preview'),
    downloadOnly: flag(o, 'download-only'),
    allowDowngrade: flag(o, 'allow-downgrade'),
  };
}

function argCount(method: string, args: readonly unknown[], n: number): void {
  if (args.length !== n) throw bad(`${method} takes ${n} arguments (got ${args.length})`);
}

/** The daemon's side: a method call (already of the right D-Bus signature) to a request. */
export function decodeCall(method: string, args: readonly unknown[]): DecodedCall {
  const spec = DAEMON_INTERFACE.methods.find((m) => m.name === method);
  if (!spec || METHOD_OPTIONS[method] === undefined) throw bad(`${method} is not a method that makes a transaction`);
  argCount(method, args, spec.in.length);
  const o = decodeOptions(method, args[args.length - 1]);
  const queue = flag(o, 'queue');
  const request = ((): OperationRequest => {
    switch (method) {
      case 'InstallPackages': {
        const packages = checkPackages('packages', args[0], true);
        if (packages.length === 0) throw bad('InstallPackages needs at least one package');
        return {
          kind: 'install',
          packages,
          options: { ...deployOpts(o), idempotent: flag(o, 'idempotent'), allowInactive: flag(o, 'allow-inactive') },
        };
      }
      case 'RemovePackages': {
        const packages = checkPackages('packages', args[0], false);
        const all = flag(o, 'all');
        if (packages.length === 0 && !all) throw bad('RemovePackages needs at least one package, or the option "all"');
        if (packages.length > 0 && all) throw bad('RemovePackages takes either packages or the option "all", not both');
        return {
          kind: 'uninstall',
          packages,
          all,
          options: { ...deployOpts(o), idempotent: flag(o, 'idempotent'), allowInactive: flag(o, 'allow-inactive') },
        };
      }
      case 'UpdateOverrides': {
        const remove = checkPackages('remove', args[0], false);
        const replace = checkDebs('replace_local', args[1]);
        const reset = checkPackages('reset', args[2], false);
        const all = flag(o, 'reset-all');
        const kinds = [remove.length > 0, replace.length > 0, reset.length > 0 || all].filter((x) => x).length;
        if (kinds !== 1)
          throw bad(
            'UpdateOverrides takes exactly one of: packages to remove, local .deb files to replace with, packages (or "reset-all") to reset',
          );
        if (all && reset.length > 0) throw bad('UpdateOverrides takes either packages to reset or the option "reset-all", not both');
        if (remove.length > 0) return { kind: 'override-remove', packages: remove, options: deployOpts(o) };
        if (replace.length > 0) return { kind: 'override-replace', debs: replace, options: deployOpts(o) };
        return { kind: 'override-reset', packages: reset, all, options: deployOpts(o) };
      }
      case 'Reset':
        return { kind: 'reset', options: deployOpts(o) };
      case 'RefreshMd':
        return { kind: 'refresh-md', options: { force: flag(o, 'force') } };
      case 'UpgradeSystem':
        return { kind: 'upgrade', options: upgradeOpts(o) };
      case 'DeployCommit':
        return { kind: 'deploy', revision: checkRevision(args[0]), options: upgradeOpts(o) };
      case 'Rebase':
        return { kind: 'rebase', refspec: checkRefspec(args[0]), options: upgradeOpts(o) };
      case 'Rollback':
        return { kind: 'rollback', options: { reboot: flag(o, 'reboot') } };
      case 'ModifyKernelArgs': {
        const set = o.has('set') ? checkKargs('set', o.get('set')) : undefined;
        const r: OperationRequest = {
          kind: 'kargs',
          append: checkKargs('append', args[0]),
          appendIfMissing: checkKargs('append-if-missing', o.get('append-if-missing') ?? []),
          delete: checkKargs('delete', args[1]),
          deleteIfPresent: checkKargs('delete-if-present', o.get('delete-if-present') ?? []),
          replace: checkKargs('replace', args[2]),
          set,
          options: { reboot: flag(o, 'reboot') },
        };
        if (
          set === undefined &&
          r.append.length + r.appendIfMissing.length + r.delete.length + r.deleteIfPresent.length + r.replace.length === 0
        ) {
          throw bad('ModifyKernelArgs needs at least one change');
        }
        return r;
      }
      case 'SetInitramfsState': {
        if (typeof args[0] !== 'boolean') throw bad('regenerate must be a boolean');
        return { kind: 'initramfs', enable: args[0], args: checkList('args', args[1]), options: { reboot: flag(o, 'reboot') } };
      }
      case 'Cleanup': {
        const what = checkList('what', args[0], 32);
        if (what.length === 0) throw bad('Cleanup needs at least one of: pending, rollback, base, repomd');
        for (const w of what)
          if (!(CLEANUP_TARGETS as readonly string[]).includes(w))
            throw bad(`"${w}" is not something to clean up`, 'one of: pending, rollback, base, repomd');
        return { kind: 'cleanup', what: [...new Set(what)] as CleanupTarget[], options: {} };
      }
      case 'PinDeployment': {
        const index = args[0];
        if (typeof index !== 'number' || !Number.isInteger(index) || index < 0)
          throw bad('the deployment index must be a non-negative integer');
        return { kind: 'pin', index, unpin: flag(o, 'unpin'), options: {} };
      }
      case 'AutomaticUpdateTrigger': {
        const mode = o.get('mode') as 'none' | 'check' | 'stage' | undefined;
        const scope = o.get('scope') as 'full' | 'security' | undefined;
        return { kind: 'automatic-update', options: { ...(mode ? { mode } : {}), ...(scope ? { scope } : {}) } };
      }
      default:
        throw bad(`${method} is not a method that makes a transaction`);
    }
  })();
  return { request, queue };
}

// ---------------------------------------------------------------------------
// The client's side

const vb = (v: boolean): WireVariant => ({ signature: 'b', value: v });

function putFlags(out: Record<string, WireVariant>, flags: Record<string, boolean | undefined>): void {
  for (const [k, v] of Object.entries(flags)) if (v === true) out[k] = vb(true);
}

/** Local package paths are sent absolute: the daemon's working directory is not the client's. */
function absolutePackages(list: readonly string[]): string[] {
  return list.map((p) => (p.endsWith('.deb') ? resolve(p) : p));
}

/** A request to the method call that performs it (the inverse of decodeCall). */
export function encodeRequest(req: OperationRequest, opts: { queue?: boolean } = {}): EncodedCall {
  const o: Record<string, WireVariant> = {};
  if (opts.queue) o.queue = vb(true);
  const call = (method: string, signature: string, args: unknown[]): EncodedCall => ({ method, signature, args, options: o });
  switch (req.kind) {
    case 'install':
      putFlags(o, {
        'dry-run': req.options.dryRun,
        'cache-only': req.options.cacheOnly,
        reboot: req.options.reboot,
        idempotent: req.options.idempotent,
        'allow-inactive': req.options.allowInactive,
      });
      return call('InstallPackages', 'asa{sv}', [absolutePackages(req.packages)]);
    case 'uninstall':
      putFlags(o, {
        'dry-run': req.options.dryRun,
        'cache-only': req.options.cacheOnly,
        reboot: req.options.reboot,
        idempotent: req.options.idempotent,
        'allow-inactive': req.options.allowInactive,
        all: req.all,
      });
      return call('RemovePackages', 'asa{sv}', [req.packages]);
    case 'override-remove':
    case 'override-replace':
    case 'override-reset':
      putFlags(o, { 'dry-run': req.options.dryRun, 'cache-only': req.options.cacheOnly, reboot: req.options.reboot });
      if (req.kind === 'override-reset') putFlags(o, { 'reset-all': req.all });
      return call('UpdateOverrides', 'asasasa{sv}', [
        req.kind === 'override-remove' ? req.packages : [],
        req.kind === 'override-replace' ? absolutePackages(req.debs) : [],
        req.kind === 'override-reset' ? req.packages : [],
      ]);
    case 'reset':
      putFlags(o, { 'dry-run': req.options.dryRun, 'cache-only': req.options.cacheOnly, reboot: req.options.reboot });
      return call('Reset', 'a{sv}', []);
    case 'refresh-md':
      putFlags(o, { force: req.options.force });
      return call('RefreshMd', 'a{sv}', []);
    case 'upgrade':
    case 'deploy':
    case 'rebase': {
      const u = req.options;
      putFlags(o, {
        'dry-run': u.dryRun,
        'cache-only': u.cacheOnly,
        reboot: u.reboot,
        check: u.check,
        preview: u.preview,
        'download-only': u.downloadOnly,
        'allow-downgrade': u.allowDowngrade,
      });
      if (req.kind === 'upgrade') return call('UpgradeSystem', 'a{sv}', []);
      if (req.kind === 'deploy') return call('DeployCommit', 'sa{sv}', [req.revision]);
      return call('Rebase', 'sa{sv}', [req.refspec]);
    }
    case 'rollback':
      putFlags(o, { reboot: req.options.reboot });
      return call('Rollback', 'a{sv}', []);
    case 'kargs':
      putFlags(o, { reboot: req.options.reboot });
      if (req.appendIfMissing.length > 0) o['append-if-missing'] = { signature: 'as', value: req.appendIfMissing };
      if (req.deleteIfPresent.length > 0) o['delete-if-present'] = { signature: 'as', value: req.deleteIfPresent };
      if (req.set !== undefined) o.set = { signature: 'as', value: req.set };
      return call('ModifyKernelArgs', 'asasasa{sv}', [req.append, req.delete, req.replace]);
    case 'initramfs':
      putFlags(o, { reboot: req.options.reboot });
      return call('SetInitramfsState', 'basa{sv}', [req.enable, req.args]);
    case 'cleanup':
      return call('Cleanup', 'asa{sv}', [req.what]);
    case 'pin':
      putFlags(o, { unpin: req.unpin });
      return call('PinDeployment', 'ia{sv}', [req.index]);
    case 'automatic-update':
      if (req.options.mode) o.mode = { signature: 's', value: req.options.mode };
      if (req.options.scope) o.scope = { signature: 's', value: req.options.scope };
      return call('AutomaticUpdateTrigger', 'a{sv}', []);
    default:
      throw new AptOstreeError('not-implemented', `the ${(req as OperationRequest).kind} operation has no D-Bus method yet`);
  }
}

/** Input signature of a daemon method ("asa{sv}"), or undefined when there is no such method. */
export function inSignature(method: string): string | undefined {
  const m = DAEMON_INTERFACE.methods.find((x) => x.name === method);
  return m ? m.in.map((x) => x.type).join('') : undefined;
}

/**
 * A canonical key of a request: two calls with the same key are the same
 * request (the second joins the first's transaction).
 */
export function requestKey(req: OperationRequest): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined && x !== false) out[k] = canon(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(canon(req));
}

/** Introspection XML of an interface. */
export function interfaceXml(i: InterfaceSpec): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const lines = [`  <interface name="${esc(i.name)}">`];
  for (const m of i.methods) {
    lines.push(`    <method name="${m.name}">`);
    for (const x of m.in) lines.push(`      <arg name="${x.name}" type="${esc(x.type)}" direction="in"/>`);
    for (const x of m.out) lines.push(`      <arg name="${x.name}" type="${esc(x.type)}" direction="out"/>`);
    lines.push('    </method>');
  }
  for (const s of i.signals) {
    lines.push(`    <signal name="${s.name}">`);
    for (const x of s.args) lines.push(`      <arg name="${x.name}" type="${esc(x.type)}"/>`);
    lines.push('    </signal>');
  }
  for (const p of i.properties) lines.push(`    <property name="${p.name}" type="${esc(p.type)}" access="read"/>`);
  lines.push('  </interface>');
  return lines.join('\n');
}
