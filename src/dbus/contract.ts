/**
 * The D-Bus contract of apt-ostreed, in one place: names, the introspection
 * of both interfaces, error names and bodies, the polkit action of each
 * method, and the single mapping between an engine `OperationRequest` and a
 * method call with its `a{sv}` options, all derived from the operation
 * registry (src/engine/operations/registry.ts). The daemon decodes (and
 * validates, once, at the edge); the client encodes. Nothing here loads a
 * D-Bus library.
 *
 * Option keys are the CLI's long option names ("dry-run", "cache-only", ...).
 * An unknown key, a value of the wrong type, a bad package name or an array
 * that is too long is an error, never ignored.
 */
import { isAbsolute, resolve } from 'node:path';
import { AptOstreeError, type ErrorCode } from '../engine/errors';
import { isPackageName } from '../engine/layering/names';
import { isValidKarg } from '../engine/sysroot';
import {
  ENTRIES,
  keyOf,
  operationOf,
  OPTION_SIGNATURE,
  POLKIT,
  QUEUE_OPTION,
  transactionMethods,
  type CallValues,
  type DBusMethod,
  type AnyOperation,
  type OptionSpec,
  type ValueCheck,
} from '../engine/operations/registry';
import type { OperationRequest } from '../engine/operations/types';

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

/**
 * The body of the error reply of an engine error: signature "ss", the
 * message, then JSON {code, hint?, details?}, so that the client rebuilds
 * the same error (and prints it as the in-process path does).
 */
export function errorBody(e: AptOstreeError): [string, string] {
  return [e.message, JSON.stringify({ code: e.code, ...(e.hint ? { hint: e.hint } : {}), ...(e.details ? { details: e.details } : {}) })];
}

/** The error of an error reply: from its name, message and (when the daemon sent one) the JSON of errorBody. */
export function errorFromReply(name: string, message: string, data?: string): AptOstreeError {
  let code: ErrorCode = name === ACCESS_DENIED ? 'denied' : errorCodeOf(name);
  let hint: string | undefined;
  let details: string | undefined;
  if (data !== undefined) {
    try {
      const j = JSON.parse(data) as { code?: unknown; hint?: unknown; details?: unknown };
      if (typeof j.code === 'string' && j.code in ERROR_NAMES) code = j.code as ErrorCode;
      if (typeof j.hint === 'string') hint = j.hint;
      if (typeof j.details === 'string') details = j.details;
    } catch {
      /* not ours: the name and message alone */
    }
  }
  return new AptOstreeError(code, message, { hint, details });
}

/** The error a failed transaction's Result carries. */
export function errorOfResult(r: TransactionResult): AptOstreeError {
  return new AptOstreeError(r.code ?? 'internal', r.error ?? r.summary, { hint: r.hint, details: r.details });
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

/** A registry method as introspection data: the in-arguments, then the options a{sv} of a transaction method. */
function methodSpec(m: DBusMethod): MethodSpec {
  return {
    name: m.name,
    in: [...m.in.map((x) => a(x.name, x.type)), ...(m.options ? [a('options', 'a{sv}')] : [])],
    out: m.out.map((x) => a(x.name, x.type)),
  };
}

/** The methods of the daemon: Ping, GetStatus, every transaction method of the registry, then Reload and CancelActive. */
function daemonMethods(): MethodSpec[] {
  const byName = new Map<string, DBusMethod>();
  for (const e of ENTRIES) if (e.dbus && !byName.has(e.dbus.name)) byName.set(e.dbus.name, e.dbus);
  const order = [
    'GetStatus',
    ...[...transactionMethods().keys()],
    ...[...byName.keys()].filter((n) => n !== 'GetStatus' && !transactionMethods().has(n)),
  ];
  return [{ name: 'Ping', in: [], out: [a('reply', 's')] }, ...order.map((n) => methodSpec(byName.get(n)!))];
}

export const DAEMON_INTERFACE: InterfaceSpec = {
  name: DAEMON_IFACE,
  methods: daemonMethods(),
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
  /** What the daemon did about the reboot asked for ("Rebooting", or why not). */
  rebootNote?: string;
  /** On failure: the error's message, code, hint and details, as the engine made them. */
  error?: string;
  code?: ErrorCode;
  hint?: string;
  details?: string;
}

// ---------------------------------------------------------------------------
// Values as they cross the bus: a variant is { signature, value } (dbus-next's shape)

export interface WireVariant {
  signature: string;
  value: unknown;
}

/** The options each transaction method accepts, by a{sv} key (besides "queue", accepted by all). */
export const METHOD_OPTIONS: Record<string, Record<string, OptionSpec>> = (() => {
  const out: Record<string, Record<string, OptionSpec>> = {};
  for (const [method, entries] of transactionMethods()) {
    const keys: Record<string, OptionSpec> = {};
    for (const e of entries) for (const o of e.options) if (!o.client && o.arg === undefined) keys[keyOf(o)] = o;
    out[method] = keys;
  }
  return out;
})();

/** polkit action of each method (prefixed with org.aptostree.dev.). Methods not listed are open to all. */
export const METHOD_ACTIONS: Record<string, string> = (() => {
  const out: Record<string, string> = {};
  for (const e of ENTRIES) if (e.dbus && e.polkit) out[e.dbus.name] = e.polkit.id;
  out.Cancel = POLKIT.cancel.id;
  return out;
})();

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

/** A package argument over the bus: a package name, or the absolute path of a .deb file. */
function checkPackages(what: string, l: unknown, allowLocal: boolean): string[] {
  const list = checkList(what, l, MAX_NAME * 4);
  for (const p of list) {
    if (p.trim() === '') throw bad('an empty package name was given', 'name packages as they appear in APT, e.g. "htop"');
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

/** Kernel arguments: KEY or KEY=VALUE each, as the engine requires (replace: K=V or K=OLD=NEW, one word each). */
function checkKargs(what: string, l: unknown): string[] {
  const list = checkList(what, l);
  for (const k of list) {
    if (what === 'replace') {
      // Blanks outside quotes, unbalanced quotes, or no key: not one argument.
      const unbalanced = (k.split('"').length - 1) % 2 !== 0;
      if (k === '' || k.startsWith('=') || unbalanced || /\s/.test(k.replace(/"[^"]*"/g, '')))
        throw bad(`"${k}" is not one kernel argument (${what})`);
    } else if (!isValidKarg(k)) {
      throw bad(
        `--${what === 'set' ? 'editor' : what}: invalid kernel argument "${k}"`,
        'kernel arguments are KEY or KEY=VALUE (quote a value that has spaces: KEY="a b"); no key may be empty',
      );
    }
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

const CLEANUP_TARGETS: readonly string[] = ['pending', 'rollback', 'base', 'repomd'];

/** A value checked for what it must be (its type is already checked). */
function checkValue(check: ValueCheck | undefined, what: string, v: unknown): unknown {
  switch (check) {
    case 'package':
      return checkPackages(what, v, false);
    case 'package-or-deb':
      return checkPackages(what, v, true);
    case 'deb':
      return checkDebs(what, v);
    case 'karg':
      return checkKargs(what, v);
    case 'token':
      return checkToken(what, v);
    case 'revision':
      return checkRevision(v);
    case 'refspec':
      return checkRefspec(v);
    case 'cleanup-target': {
      const what2 = checkList(what, v, 32);
      for (const w of what2)
        if (!CLEANUP_TARGETS.includes(w)) throw bad(`"${w}" is not something to clean up`, `one of: ${CLEANUP_TARGETS.join(', ')}`);
      return what2;
    }
    case 'index':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad('the deployment index must be a non-negative integer');
      return v;
    case 'text':
    case undefined:
      return Array.isArray(v) ? checkList(what, v) : typeof v === 'string' ? checkString(what, v) : v;
  }
}

const TYPE_OF: Record<string, (v: unknown) => boolean> = {
  b: (v) => typeof v === 'boolean',
  s: (v) => typeof v === 'string',
  i: (v) => typeof v === 'number',
  as: (v) => Array.isArray(v),
};

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
  const known: Record<string, OptionSpec> = { ...spec, queue: QUEUE_OPTION };
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    const s = known[key];
    if (s === undefined) {
      throw bad(
        `unknown option "${key.length > 64 ? `${key.slice(0, 64)}...` : key}" for ${method}`,
        `${method} accepts: ${Object.keys(known).sort().join(', ')}`,
      );
    }
    const sig = OPTION_SIGNATURE[s.type];
    const variant = v as Partial<WireVariant> | null;
    if (variant === null || typeof variant !== 'object' || variant.signature !== sig) {
      throw bad(
        `option "${key}" of ${method} must be of type ${sig}${variant && typeof variant.signature === 'string' ? ` (got ${variant.signature})` : ''}`,
      );
    }
    let value: unknown = variant.value;
    if (s.type === 'string-list') value = checkList(`option "${key}"`, value);
    else if (s.type === 'string') value = checkString(`option "${key}"`, value);
    if (s.choices && !s.choices.includes(value as string)) throw bad(`option "${key}" of ${method} must be one of ${s.choices.join(', ')}`);
    if (s.check) value = checkValue(s.check, key, value);
    out.set(key, value);
  }
  return out;
}

/** The entry a call of `method` is for: the one entry of the method, or (a shared method) the one whose in-argument or key is given. */
function entryFor(method: string, entries: readonly AnyOperation[], v: CallValues): AnyOperation {
  if (entries.length === 1) return entries[0]!;
  // A shared method: the entry whose own positional in-argument (or its flag) is given; the first one's build explains a conflict.
  const given = entries.filter(
    (e) =>
      e.positionals.some((p) => ((v.args[p.arg ?? p.name] as unknown[] | undefined)?.length ?? 0) > 0) ||
      e.options.some((o) => o.arg === undefined && !o.field && !o.client && v.options.get(keyOf(o)) === true),
  );
  return given.length === 1 ? given[0]! : entries[0]!;
}

/** The daemon's side: a method call (already of the right D-Bus signature) to a request. */
export function decodeCall(method: string, args: readonly unknown[]): DecodedCall {
  const entries = transactionMethods().get(method);
  if (!entries) throw bad(`${method} is not a method that makes a transaction`);
  const m = entries[0]!.dbus;
  argCount(method, args, m.in.length + 1);
  const options = decodeOptions(method, args[args.length - 1]);
  const values: CallValues = { args: {}, options };
  m.in.forEach((x, i) => {
    const v = args[i];
    if (!TYPE_OF[x.type]?.(v)) {
      throw bad(
        x.type === 'as' ? `${x.name} must be a list of strings` : `${x.name} must be ${x.type === 'b' ? 'a boolean' : `of type ${x.type}`}`,
      );
    }
    values.args[x.name] = checkValue(x.check, x.name, v);
  });
  const queue = options.get('queue') === true;
  options.delete('queue');
  const e = entryFor(method, entries, values);
  return { request: e.build(values, method), queue };
}

function argCount(method: string, args: readonly unknown[], n: number): void {
  if (args.length !== n) throw bad(`${method} takes ${n} arguments (got ${args.length})`);
}

// ---------------------------------------------------------------------------
// The client's side

/** Local package paths are sent absolute: the daemon's working directory is not the client's. */
function absolutePackages(list: readonly string[]): string[] {
  return list.map((p) => (p.endsWith('.deb') ? resolve(p) : p));
}

/** A request to the method call that performs it (the inverse of decodeCall). */
export function encodeRequest(req: OperationRequest, opts: { queue?: boolean } = {}): EncodedCall {
  const e = operationOf(req.kind);
  const v = (e.values as (r: OperationRequest) => CallValues)(req);
  const spec = METHOD_OPTIONS[e.dbus.name]!;
  const o: Record<string, WireVariant> = {};
  if (opts.queue) o.queue = { signature: 'b', value: true };
  for (const [k, value] of v.options) {
    const s = spec[k];
    if (!s) throw new AptOstreeError('internal', `${e.dbus.name} has no option "${k}"`);
    if (value === undefined || value === false) continue;
    o[k] = { signature: OPTION_SIGNATURE[s.type], value };
  }
  const args = e.dbus.in.map((x) => {
    const value = v.args[x.name] ?? (x.type === 'as' ? [] : undefined);
    return x.check === 'package-or-deb' || x.check === 'deb' ? absolutePackages(value as string[]) : value;
  });
  return { method: e.dbus.name, signature: `${e.dbus.in.map((x) => x.type).join('')}a{sv}`, args, options: o };
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
