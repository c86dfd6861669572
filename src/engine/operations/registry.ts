/**
 * The operation registry: every verb of apt-ostree declared once, as data.
 *
 * An operation entry (a change, run as a transaction) names its request
 * kind, its CLI verb path, description, positional arguments and options,
 * its D-Bus method with the in-arguments, its polkit action, its traits, how
 * a request is built from call values and back, the title of its
 * transaction, and which engine function runs it. A command entry (status,
 * db, compose, ...) declares a verb that is not a transaction, so that help,
 * man pages and completion cover every verb.
 *
 * Everything else derives from here: the CLI's commander commands and help
 * (src/cli/define.ts), the D-Bus introspection, encoding and validated
 * decoding (src/dbus/contract.ts), the polkit policy, man pages and bash
 * completion (src/engine/operations/render.ts), and dispatch (./index.ts).
 *
 * This module is pure data and small functions: it imports no engine
 * implementation (runners name their module; ./index.ts loads it), so that
 * `status` and `--help` stay quick.
 */
import type * as Automatic from '../automatic';
import type * as AutomaticRun from '../automatic-run';
import type * as BootConfig from '../bootconfig';
import type * as Layering from '../layering/operations';
import type * as Live from '../live';
import type * as Upgrade from '../updates/upgrade';
import { usageError } from '../errors';
import type {
  ApplyLiveOptions,
  CleanupTarget,
  DeployOptions,
  InstallOptions,
  OperationContext,
  OperationKind,
  OperationRequest,
  OperationResult,
  UpgradeOptions,
} from './types';

// ---------------------------------------------------------------------------
// The shapes

export type OptionType = 'boolean' | 'string' | 'string-list' | 'integer';

/** D-Bus signature of each option type. */
export const OPTION_SIGNATURE: Record<OptionType, string> = { boolean: 'b', string: 's', 'string-list': 'as', integer: 'i' };

/**
 * What a value must be beyond its type; checked once, at the edge (the
 * daemon's decoding, which the in-process path goes through as well).
 */
export type ValueCheck =
  'text' | 'package' | 'package-or-deb' | 'deb' | 'karg' | 'token' | 'revision' | 'refspec' | 'cleanup-target' | 'index';

export type OptionValue = boolean | string | string[] | number;

export interface OptionSpec {
  /** Long name: --LONG on the command line, and the a{sv} key on D-Bus (unless `key` or `arg` say otherwise). */
  long: string;
  /** One letter: -X. */
  short?: string;
  type: OptionType;
  help: string;
  /** Name of the value in help (<VALUE>). */
  valueName?: string;
  default?: OptionValue;
  choices?: readonly string[];
  /** Other spellings the command line accepts for a choice (case does not matter there): "off" for "none". */
  choiceAliases?: Readonly<Record<string, string>>;
  check?: ValueCheck;
  /** Mandatory on the command line. */
  required?: true;
  /** Client-only: never crosses the bus (--unchanged-exit-77, --editor, -y). */
  client?: true;
  /** Accepted on D-Bus, not offered on the command line of this verb. */
  busOnly?: true;
  /** The a{sv} key, when it is not the long name. */
  key?: string;
  /** Carried in the D-Bus in-argument of this name instead of the a{sv}. */
  arg?: string;
  /** For a flag carried in an in-argument: the value it stands for (a list in-argument collects them). */
  argValue?: boolean | string;
  /** The field of the request's `options` it fills (absent: the entry's build reads it). */
  field?: string;
}

export interface PositionalSpec {
  /** Name in help and in the D-Bus in-argument it is carried in (`arg`, default the same). */
  name: string;
  help: string;
  required?: boolean;
  variadic?: boolean;
  arg?: string;
  /** What completion offers for it. */
  complete?: 'package' | 'layered-package' | 'deployment-index' | 'file' | 'deb';
}

export interface BusArg {
  name: string;
  /** D-Bus signature. */
  type: 's' | 'as' | 'b' | 'i' | 'o' | 'u' | 't' | 'a{sv}';
  check?: ValueCheck;
}

export interface PolkitAction {
  /** Without the org.aptostree.dev. prefix. */
  id: string;
  description: string;
  message: string;
}

export interface Traits {
  /** Makes a transaction that may wait its turn (--queue; the a{sv} key "queue"). */
  queueable?: boolean;
  /** Can reboot afterwards (-r, --reboot). */
  reboot?: boolean;
  /** Changing the system needs root (or polkit through the daemon). */
  root?: boolean;
  /** Runs in the client, not through a daemon transaction. */
  local?: boolean;
  /** Not listed in help (run by systemd units). */
  hidden?: boolean;
  /** --unchanged-exit-77, with its help text when it is not the usual one. */
  unchangedExit77?: boolean | string;
}

/** Plain values of a call, as both the CLI and the daemon produce them: D-Bus in-arguments by name, a{sv} options by key. */
export interface CallValues {
  args: Record<string, unknown>;
  options: Map<string, unknown>;
}

export type Req<K extends OperationKind> = Extract<OperationRequest, { kind: K }>;

/** The engine modules runners call into (types only here; ./index.ts loads them). */
export interface EngineModules {
  layering: typeof Layering;
  bootconfig: typeof BootConfig;
  upgrade: typeof Upgrade;
  automatic: typeof AutomaticRun;
  live: typeof Live;
}

export type Runner = {
  [M in keyof EngineModules]: {
    module: M;
    run: (m: EngineModules[M], ctx: OperationContext, req: OperationRequest) => Promise<OperationResult>;
  };
}[keyof EngineModules];

export interface DBusMethod {
  name: string;
  /** In-arguments before the trailing options a{sv} (when `options` is not false). */
  in: readonly BusArg[];
  out: readonly BusArg[];
  /** Whether the method ends with an options a{sv} (every transaction method does). */
  options?: boolean;
}

interface EntryBase {
  /** Verb path: ['override', 'remove']. */
  verb: readonly string[];
  aliases?: readonly string[];
  description: string;
  positionals: readonly PositionalSpec[];
  options: readonly OptionSpec[];
  traits: Traits;
}

export interface OperationEntry<K extends OperationKind = OperationKind> extends EntryBase {
  type: 'operation';
  kind: K;
  dbus: DBusMethod;
  polkit: PolkitAction;
  /** The transaction title (and log name) of a request. */
  title(req: Req<K>): string;
  /** The request from validated call values. */
  build(v: CallValues, method: string): Req<K>;
  /** The call values of a request (the inverse of build). */
  values(req: Req<K>): CallValues;
  /** Checks of the command line alone (exclusive flags...), on the CLI's values, before build. */
  cliCheck?(v: CallValues, given: ReadonlySet<string>): void;
  runner: Runner;
}

export interface CommandEntry extends EntryBase {
  type: 'command';
  /** Its D-Bus method, if it has one (queries and daemon control). */
  dbus?: DBusMethod;
  polkit?: PolkitAction;
  /** Declared as a group of subcommands only (db, compose). */
  group?: boolean;
}

/** Any one operation entry. */
export type AnyOperation = { [K in OperationKind]: OperationEntry<K> }[OperationKind];

export type Entry = AnyOperation | CommandEntry;

// ---------------------------------------------------------------------------
// polkit actions (some are shared by several methods)

const action = (id: string, description: string, message: string): PolkitAction => ({ id, description, message });

/** Every polkit action, in the order of the shipped policy. */
export const POLKIT = {
  install: action('install-packages', 'Install packages', 'Authentication is required to install packages'),
  remove: action('remove-packages', 'Remove packages', 'Authentication is required to remove packages'),
  override: action('override', 'Override base packages', 'Authentication is required to replace or remove packages of the base system'),
  reset: action('reset', 'Reset the system', 'Authentication is required to remove all layered packages and overrides'),
  refreshMd: action('refresh-md', 'Refresh package metadata', 'Authentication is required to refresh the package metadata'),
  upgrade: action('upgrade-system', 'Upgrade the system', 'Authentication is required to upgrade the system'),
  deploy: action('deploy', 'Deploy a commit', 'Authentication is required to deploy a specific version of the system'),
  rebase: action('rebase', 'Rebase the system', 'Authentication is required to switch the system to another branch'),
  rollback: action('rollback', 'Roll back the system', 'Authentication is required to roll the system back to the previous deployment'),
  kargs: action('modify-kernel-args', 'Change kernel arguments', 'Authentication is required to change the kernel arguments'),
  initramfs: action('initramfs', 'Manage the initramfs', 'Authentication is required to change how the initramfs is generated'),
  cleanup: action('cleanup', 'Clean up', 'Authentication is required to remove deployments and cached data'),
  cancel: action('cancel', 'Cancel an operation', "Authentication is required to cancel another user's operation"),
  applyLive: action(
    'apply-live',
    'Apply changes to the running system',
    'Authentication is required to change the running system without a reboot',
  ),
  usroverlay: action('usroverlay', 'Make /usr writable', 'Authentication is required to unlock /usr of the running system with an overlay'),
  reload: action(
    'reload-daemon',
    'Reload the daemon configuration',
    'Authentication is required to reload the configuration of apt-ostreed',
  ),
} as const satisfies Record<string, PolkitAction>;

// ---------------------------------------------------------------------------
// Shared options

const flag = (long: string, help: string, more: Partial<OptionSpec> = {}): OptionSpec => ({ long, type: 'boolean', help, ...more });

const DRY_RUN = flag('dry-run', 'show what would change; deploy nothing', { short: 'n', field: 'dryRun' });
const CACHE_ONLY = flag('cache-only', 'use only cached APT metadata and packages (no network)', { short: 'C', field: 'cacheOnly' });
const REBOOT = flag('reboot', 'reboot after deploying', { short: 'r', field: 'reboot' });
const ASSUMEYES = flag('assumeyes', 'accepted for compatibility (never asks)', { short: 'y', client: true });

/** Options of every operation that makes a new deployment. */
export const DEPLOY_OPTIONS: readonly OptionSpec[] = [DRY_RUN, CACHE_ONLY, REBOOT];

const busOnly = (o: OptionSpec): OptionSpec => ({ ...o, busOnly: true });
const withHelp = (o: OptionSpec, help: string): OptionSpec => ({ ...o, help });

/** Options of the operations that pull a base (upgrade, deploy, rebase). */
export const UPGRADE_OPTIONS: readonly OptionSpec[] = [
  flag('check', 'only say whether an update is available (version, commit, date); downloads no content', { field: 'check' }),
  flag('preview', 'like --check, with the package changes (added, removed, upgraded, downgraded)', { field: 'preview' }),
  flag('download-only', 'download the update without deploying it', { field: 'downloadOnly' }),
  withHelp(CACHE_ONLY, 'use only what is already downloaded'),
  flag('allow-downgrade', 'accept a base older than the current one', { field: 'allowDowngrade' }),
  REBOOT,
  busOnly(DRY_RUN),
];

/** The options of deploy: those of upgrade it offers, and the branch check it can skip. */
const DEPLOY_COMMIT_OPTIONS: readonly OptionSpec[] = [
  ...UPGRADE_OPTIONS.map((o) => (o.long === 'cache-only' || o.long === 'reboot' ? o : busOnly(o))),
  flag('skip-branch-check', "deploy a commit that is not in the history of the origin's ref", { field: 'skipBranchCheck' }),
];

/** --queue: derived for every queueable operation (the a{sv} key "queue", accepted by every transaction method). */
export const QUEUE_OPTION: OptionSpec = flag('queue', 'if another transaction is in progress, wait for it instead of failing');

const unchangedOption = (help: string | boolean | undefined): OptionSpec =>
  flag('unchanged-exit-77', typeof help === 'string' ? help : 'exit 77 when nothing changed', { client: true });

/** The options a verb offers on the command line: its own (not bus-only), then the derived ones. */
export function cliOptions(e: Entry): OptionSpec[] {
  const out = e.options.filter((o) => !o.busOnly);
  if (e.traits.unchangedExit77) out.push(unchangedOption(e.traits.unchangedExit77));
  if (e.type === 'operation' && e.traits.queueable) out.push(QUEUE_OPTION);
  return out;
}

// ---------------------------------------------------------------------------
// Helpers for build/values

/** The a{sv} key of an option. */
export const keyOf = (o: OptionSpec): string => o.key ?? o.long;

const on = (v: CallValues, key: string): boolean => v.options.get(key) === true;

/** The request options (by field) an entry's options give. */
function fields(options: readonly OptionSpec[], v: CallValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of options) {
    if (o.field === undefined) continue;
    const x = v.options.get(keyOf(o));
    out[o.field] = o.type === 'boolean' ? x === true : x;
  }
  return out;
}

/** The a{sv} values of request options (by field); false flags and absent values are left out. */
function keys(options: readonly OptionSpec[], ro: object): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const r = ro as Record<string, unknown>;
  for (const o of options) {
    if (o.field === undefined) continue;
    const x = r[o.field];
    if (x === undefined || x === false) continue;
    out.set(keyOf(o), x);
  }
  return out;
}

const list = (v: CallValues, name: string): string[] => (v.args[name] as string[] | undefined) ?? [];

const TX: BusArg = { name: 'transaction', type: 'o' };
const txMethod = (name: string, inArgs: BusArg[], out: BusArg[] = [TX]): DBusMethod => ({ name, in: inArgs, out, options: true });

// The method the three override verbs share: one kind of change per call.
const UPDATE_OVERRIDES = txMethod('UpdateOverrides', [
  { name: 'remove', type: 'as', check: 'package' },
  { name: 'replace_local', type: 'as', check: 'deb' },
  { name: 'reset', type: 'as', check: 'package' },
]);

function overrideKind(v: CallValues): 'override-remove' | 'override-replace' | 'override-reset' {
  const remove = list(v, 'remove');
  const replace = list(v, 'replace_local');
  const reset = list(v, 'reset');
  const all = on(v, 'reset-all');
  const kinds = [remove.length > 0, replace.length > 0, reset.length > 0 || all].filter((x) => x).length;
  if (kinds !== 1)
    throw usageError(
      'UpdateOverrides takes exactly one of: packages to remove, local .deb files to replace with, packages (or "reset-all") to reset',
    );
  if (all && reset.length > 0) throw usageError('UpdateOverrides takes either packages to reset or the option "reset-all", not both');
  return remove.length > 0 ? 'override-remove' : replace.length > 0 ? 'override-replace' : 'override-reset';
}

const layering: Runner = { module: 'layering', run: (m, ctx, req) => m.runLayeringOperation(ctx, req as Layering.LayeringRequest) };
const bootconfig: Runner = {
  module: 'bootconfig',
  run: (m, ctx, req) => m.runBootConfigOperation(ctx, req as Parameters<typeof m.runBootConfigOperation>[1]),
};

function op<K extends OperationKind>(e: Omit<OperationEntry<K>, 'type'>): OperationEntry<K> {
  return { type: 'operation', ...e };
}

// ---------------------------------------------------------------------------
// The operations

const INSTALL_OPTIONS: readonly OptionSpec[] = [
  withHelp(DRY_RUN, 'show what would be installed; deploy nothing'),
  CACHE_ONLY,
  flag('idempotent', 'do nothing when a package is already requested', { field: 'idempotent' }),
  flag('allow-inactive', 'record a request for a package the base already provides', { field: 'allowInactive' }),
  flag('apply-live', 'apply the new deployment to the running system too (see apply-live)', { short: 'A', field: 'applyLive' }),
  ASSUMEYES,
  REBOOT,
];

const APPLY_LIVE_OPTIONS: readonly OptionSpec[] = [
  {
    long: 'target',
    type: 'string',
    valueName: 'REV',
    help: "a commit (checksum or ref) built on the booted deployment's base, instead of the pending deployment",
    check: 'refspec',
    field: 'target',
  },
  flag('reset', 'return the running /usr to the booted commit', { field: 'reset' }),
  flag('allow-replacement', 'allow changing or removing files of the booted tree (default: additions only)', { field: 'allowReplacement' }),
];

const USROVERLAY_OPTIONS: readonly OptionSpec[] = [
  flag('hotfix', 'keep the changes across reboots (a clone of the deployment becomes the rollback)', { field: 'hotfix' }),
  flag('transient', 'prepare the overlay read-only (as apply-live uses it)', { field: 'transient' }),
];

const CHANGE_TRAITS: Traits = { queueable: true, reboot: true, root: true, unchangedExit77: true };

export const OPERATIONS = [
  op({
    kind: 'install',
    verb: ['install'],
    description: 'Layer packages (names in the APT sources, or local .deb files) on the base in a new deployment',
    positionals: [{ name: 'packages', help: 'package names or paths of .deb files', required: true, variadic: true, complete: 'package' }],
    options: INSTALL_OPTIONS,
    traits: CHANGE_TRAITS,
    dbus: txMethod('InstallPackages', [{ name: 'packages', type: 'as', check: 'package-or-deb' }]),
    polkit: POLKIT.install,
    title: (r) => `install ${r.packages.join(' ')}`,
    build: (v) => {
      const packages = list(v, 'packages');
      if (packages.length === 0) throw usageError('InstallPackages needs at least one package');
      return { kind: 'install', packages, options: fields(INSTALL_OPTIONS, v) as InstallOptions };
    },
    cliCheck: (_v, given) => {
      if (given.has('apply-live') && given.has('reboot')) throw usageError('--apply-live and --reboot exclude each other');
    },
    values: (r) => ({ args: { packages: r.packages }, options: keys(INSTALL_OPTIONS, r.options) }),
    runner: { module: 'live', run: (m, ctx, req) => m.runInstallApplyLive(ctx, req as Req<'install'>) },
  }),
  op({
    kind: 'uninstall',
    verb: ['uninstall'],
    description: 'Remove layered packages in a new deployment',
    positionals: [{ name: 'packages', help: 'layered package names', variadic: true, complete: 'layered-package' }],
    options: [
      flag('all', 'remove every layered package'),
      withHelp(DRY_RUN, 'show what would change; deploy nothing'),
      CACHE_ONLY,
      flag('idempotent', 'do nothing when a package is not layered', { field: 'idempotent' }),
      busOnly(flag('allow-inactive', 'accepted for symmetry with install', { field: 'allowInactive' })),
      ASSUMEYES,
      REBOOT,
    ],
    traits: CHANGE_TRAITS,
    dbus: txMethod('RemovePackages', [{ name: 'packages', type: 'as', check: 'package' }]),
    polkit: POLKIT.remove,
    title: (r) => (r.all ? 'uninstall --all' : `uninstall ${r.packages.join(' ')}`),
    build(v) {
      const packages = list(v, 'packages');
      const all = on(v, 'all');
      if (packages.length === 0 && !all) throw usageError('RemovePackages needs at least one package, or the option "all"');
      if (packages.length > 0 && all) throw usageError('RemovePackages takes either packages or the option "all", not both');
      return { kind: 'uninstall', packages, all, options: fields(this.options, v) as InstallOptions };
    },
    values(r) {
      const o = keys(this.options, r.options);
      if (r.all) o.set('all', true);
      return { args: { packages: r.packages }, options: o };
    },
    runner: layering,
  }),
  op({
    kind: 'override-remove',
    verb: ['override', 'remove'],
    description: 'Leave out packages of the base',
    positionals: [{ name: 'packages', help: 'base package names', required: true, variadic: true, arg: 'remove', complete: 'package' }],
    options: DEPLOY_OPTIONS,
    traits: CHANGE_TRAITS,
    dbus: UPDATE_OVERRIDES,
    polkit: POLKIT.override,
    title: (r) => `override remove ${r.packages.join(' ')}`,
    build: (v) => {
      overrideKind(v);
      return { kind: 'override-remove', packages: list(v, 'remove'), options: fields(DEPLOY_OPTIONS, v) as DeployOptions };
    },
    values: (r) => ({ args: { remove: r.packages, replace_local: [], reset: [] }, options: keys(DEPLOY_OPTIONS, r.options) }),
    runner: layering,
  }),
  op({
    kind: 'override-replace',
    verb: ['override', 'replace'],
    description: 'Replace packages of the base by local .deb files',
    positionals: [{ name: 'debs', help: '.deb files', required: true, variadic: true, arg: 'replace_local', complete: 'deb' }],
    options: DEPLOY_OPTIONS,
    traits: CHANGE_TRAITS,
    dbus: UPDATE_OVERRIDES,
    polkit: POLKIT.override,
    title: (r) => `override replace ${r.debs.join(' ')}`,
    build: (v) => {
      overrideKind(v);
      return { kind: 'override-replace', debs: list(v, 'replace_local'), options: fields(DEPLOY_OPTIONS, v) as DeployOptions };
    },
    values: (r) => ({ args: { remove: [], replace_local: r.debs, reset: [] }, options: keys(DEPLOY_OPTIONS, r.options) }),
    runner: layering,
  }),
  op({
    kind: 'override-reset',
    verb: ['override', 'reset'],
    description: 'Undo overrides of base packages',
    positionals: [{ name: 'packages', help: 'package names', variadic: true, arg: 'reset', complete: 'package' }],
    options: [flag('all', 'undo every override', { short: 'a', key: 'reset-all' }), ...DEPLOY_OPTIONS],
    traits: CHANGE_TRAITS,
    dbus: UPDATE_OVERRIDES,
    polkit: POLKIT.override,
    title: (r) => (r.all ? 'override reset --all' : `override reset ${r.packages.join(' ')}`),
    build: (v) => {
      overrideKind(v);
      return {
        kind: 'override-reset',
        packages: list(v, 'reset'),
        all: on(v, 'reset-all'),
        options: fields(DEPLOY_OPTIONS, v) as DeployOptions,
      };
    },
    values: (r) => {
      const o = keys(DEPLOY_OPTIONS, r.options);
      if (r.all) o.set('reset-all', true);
      return { args: { remove: [], replace_local: [], reset: r.packages }, options: o };
    },
    runner: layering,
  }),
  op({
    kind: 'reset',
    verb: ['reset'],
    description: 'Drop all layered packages, overrides and initramfs regeneration in a new deployment of the plain base',
    positionals: [],
    options: [busOnly(DRY_RUN), busOnly(CACHE_ONLY), REBOOT],
    traits: CHANGE_TRAITS,
    dbus: txMethod('Reset', []),
    polkit: POLKIT.reset,
    title: () => 'reset',
    build: (v) => ({ kind: 'reset', options: fields(DEPLOY_OPTIONS, v) as DeployOptions }),
    values: (r) => ({ args: {}, options: keys(DEPLOY_OPTIONS, r.options) }),
    runner: layering,
  }),
  op({
    kind: 'refresh-md',
    verb: ['refresh-md'],
    description: "Refresh the APT metadata of the sources the deployment configures (cached in the sysroot's /var/cache/apt-ostree)",
    positionals: [],
    options: [flag('force', 'refresh even when the cache is current', { short: 'f', field: 'force' })],
    traits: { queueable: true, root: true },
    dbus: txMethod('RefreshMd', []),
    polkit: POLKIT.refreshMd,
    title: () => 'refresh-md',
    build(v) {
      return { kind: 'refresh-md', options: fields(this.options, v) as { force?: boolean } };
    },
    values(r) {
      return { args: {}, options: keys(this.options, r.options) };
    },
    runner: { module: 'layering', run: (m, ctx, req) => m.refreshMetadata(ctx, req as Req<'refresh-md'>) },
  }),
  op({
    kind: 'upgrade',
    verb: ['upgrade'],
    aliases: ['update'],
    description: "Pull the newest base of the deployment's refspec, apply the layered packages again on it, and deploy it",
    positionals: [],
    options: UPGRADE_OPTIONS,
    traits: { ...CHANGE_TRAITS, unchangedExit77: 'exit 77 when there is no update' },
    dbus: txMethod('UpgradeSystem', []),
    polkit: POLKIT.upgrade,
    title: () => 'upgrade',
    build: (v) => ({ kind: 'upgrade', options: fields(UPGRADE_OPTIONS, v) as UpgradeOptions }),
    values: (r) => ({ args: {}, options: keys(UPGRADE_OPTIONS, r.options) }),
    runner: { module: 'upgrade', run: (m, ctx, req) => m.runUpgrade(ctx, (req as Req<'upgrade'>).options) },
  }),
  op({
    kind: 'deploy',
    verb: ['deploy'],
    description:
      "Deploy a given revision of the deployment's refspec (pinned in the origin until the next upgrade); layered packages are kept",
    positionals: [{ name: 'revision', help: 'a commit checksum, or version=VERSION', required: true }],
    options: DEPLOY_COMMIT_OPTIONS,
    traits: CHANGE_TRAITS,
    dbus: txMethod('DeployCommit', [{ name: 'revision', type: 's', check: 'revision' }]),
    polkit: POLKIT.deploy,
    title: (r) => `deploy ${r.revision}`,
    build: (v) => ({ kind: 'deploy', revision: v.args.revision as string, options: fields(DEPLOY_COMMIT_OPTIONS, v) as UpgradeOptions }),
    values: (r) => ({ args: { revision: r.revision }, options: keys(DEPLOY_COMMIT_OPTIONS, r.options) }),
    runner: {
      module: 'upgrade',
      run: (m, ctx, req) => m.runDeploy(ctx, (req as Req<'deploy'>).revision, (req as Req<'deploy'>).options),
    },
  }),
  op({
    kind: 'rebase',
    verb: ['rebase'],
    description: 'Switch the deployment to another ref (or remote); layered packages are kept',
    positionals: [
      { name: 'refspec', help: '[REMOTE:]REF (REF alone keeps the current remote; REMOTE: alone keeps the ref)', required: true },
    ],
    options: UPGRADE_OPTIONS.map((o) => (o.long === 'cache-only' || o.long === 'reboot' ? o : busOnly(o))),
    traits: CHANGE_TRAITS,
    dbus: txMethod('Rebase', [{ name: 'refspec', type: 's', check: 'refspec' }]),
    polkit: POLKIT.rebase,
    title: (r) => `rebase ${r.refspec}`,
    build: (v) => ({ kind: 'rebase', refspec: v.args.refspec as string, options: fields(UPGRADE_OPTIONS, v) as UpgradeOptions }),
    values: (r) => ({ args: { refspec: r.refspec }, options: keys(UPGRADE_OPTIONS, r.options) }),
    runner: {
      module: 'upgrade',
      run: (m, ctx, req) => m.runRebase(ctx, (req as Req<'rebase'>).refspec, (req as Req<'rebase'>).options),
    },
  }),
  op({
    kind: 'rollback',
    verb: ['rollback'],
    description: 'Make the rollback deployment the default (and the default the rollback); no new deployment is made',
    positionals: [],
    options: [withHelp(REBOOT, 'reboot afterwards')],
    traits: CHANGE_TRAITS,
    dbus: txMethod('Rollback', []),
    polkit: POLKIT.rollback,
    title: () => 'rollback',
    build: (v) => ({ kind: 'rollback', options: { reboot: on(v, 'reboot') } }),
    values: (r) => ({ args: {}, options: keys([REBOOT], r.options) }),
    runner: bootconfig,
  }),
  op({
    kind: 'kargs',
    verb: ['kargs'],
    description: 'Show the kernel arguments of the default deployment, or change them (a new deployment of the same commit)',
    positionals: [],
    options: [
      {
        long: 'append',
        type: 'string-list',
        valueName: 'K=V',
        help: 'append a kernel argument (repeatable)',
        arg: 'append',
        check: 'karg',
      },
      {
        long: 'append-if-missing',
        type: 'string-list',
        valueName: 'K=V',
        help: 'append unless the key is already there (repeatable)',
        check: 'karg',
      },
      {
        long: 'delete',
        type: 'string-list',
        valueName: 'K[=V]',
        help: 'delete a kernel argument (repeatable)',
        arg: 'delete',
        check: 'karg',
      },
      {
        long: 'delete-if-present',
        type: 'string-list',
        valueName: 'K[=V]',
        help: 'delete it if it is there (repeatable)',
        check: 'karg',
      },
      {
        long: 'replace',
        type: 'string-list',
        valueName: 'K=V|K=OLD=NEW',
        help: 'replace the value of a kernel argument (repeatable)',
        arg: 'replace',
        check: 'karg',
      },
      flag('editor', 'edit the kernel arguments in $VISUAL / $EDITOR', { client: true }),
      withHelp(REBOOT, 'reboot afterwards'),
      // The full new list (what --editor produced): applied before the edits above.
      { long: 'set', type: 'string-list', help: 'the whole new list of kernel arguments', busOnly: true, check: 'karg' },
    ],
    traits: { ...CHANGE_TRAITS, unchangedExit77: 'exit 77 when the kernel arguments did not change' },
    dbus: txMethod('ModifyKernelArgs', [
      { name: 'append', type: 'as', check: 'karg' },
      { name: 'delete', type: 'as', check: 'karg' },
      { name: 'replace', type: 'as', check: 'karg' },
    ]),
    polkit: POLKIT.kargs,
    title: () => 'kargs',
    build: (v) => {
      const strings = (k: string): string[] => (v.options.get(k) as string[] | undefined) ?? [];
      const set = v.options.has('set') ? strings('set') : undefined;
      const r: Req<'kargs'> = {
        kind: 'kargs',
        append: list(v, 'append'),
        appendIfMissing: strings('append-if-missing'),
        delete: list(v, 'delete'),
        deleteIfPresent: strings('delete-if-present'),
        replace: list(v, 'replace'),
        set,
        options: { reboot: on(v, 'reboot') },
      };
      if (
        set === undefined &&
        r.append.length + r.appendIfMissing.length + r.delete.length + r.deleteIfPresent.length + r.replace.length === 0
      ) {
        throw usageError('ModifyKernelArgs needs at least one change');
      }
      return r;
    },
    values: (r) => {
      const o = keys([REBOOT], r.options);
      if (r.appendIfMissing.length > 0) o.set('append-if-missing', r.appendIfMissing);
      if (r.deleteIfPresent.length > 0) o.set('delete-if-present', r.deleteIfPresent);
      if (r.set !== undefined) o.set('set', r.set);
      return { args: { append: r.append, delete: r.delete, replace: r.replace }, options: o };
    },
    runner: bootconfig,
  }),
  op({
    kind: 'initramfs',
    verb: ['initramfs'],
    description: "Regenerate the initramfs on this machine with dracut (--enable) or go back to the base's (--disable)",
    positionals: [],
    options: [
      flag('enable', 'regenerate the initramfs in every new deployment', { arg: 'regenerate', argValue: true }),
      flag('disable', "use the base's initramfs again", { arg: 'regenerate', argValue: false }),
      { long: 'arg', type: 'string-list', valueName: 'ARG', help: 'an argument for dracut (repeatable; with --enable)', arg: 'args' },
      REBOOT,
    ],
    traits: CHANGE_TRAITS,
    dbus: txMethod('SetInitramfsState', [
      { name: 'regenerate', type: 'b' },
      { name: 'args', type: 'as', check: 'text' },
    ]),
    polkit: POLKIT.initramfs,
    title: (r) => (r.enable ? 'initramfs --enable' : 'initramfs --disable'),
    cliCheck: (v, given) => {
      if (given.has('enable') && given.has('disable')) throw usageError('--enable and --disable exclude each other');
      if (!given.has('enable') && !given.has('disable'))
        throw usageError('initramfs needs --enable or --disable', '"apt-ostree status" shows whether regeneration is enabled');
      if (given.has('disable') && list(v, 'args').length > 0) throw usageError('--arg only goes with --enable');
    },
    build: (v) => ({ kind: 'initramfs', enable: v.args.regenerate === true, args: list(v, 'args'), options: { reboot: on(v, 'reboot') } }),
    values: (r) => ({ args: { regenerate: r.enable, args: r.args }, options: keys([REBOOT], r.options) }),
    runner: {
      module: 'upgrade',
      run: (m, ctx, req) => {
        const r = req as Req<'initramfs'>;
        return m.runInitramfs(ctx, r.enable, r.args, r.options);
      },
    },
  }),
  op({
    kind: 'cleanup',
    verb: ['cleanup'],
    description: 'Remove old deployments and cached data, and prune unreferenced objects',
    positionals: [],
    options: [
      flag('pending', 'remove the pending (staged) deployment', { short: 'p', arg: 'what', argValue: 'pending' }),
      flag('rollback', 'remove the rollback deployment', { short: 'r', arg: 'what', argValue: 'rollback' }),
      flag('base', 'remove temporary data of interrupted operations', { short: 'b', arg: 'what', argValue: 'base' }),
      flag('repomd', 'remove the cached package metadata', { short: 'm', arg: 'what', argValue: 'repomd' }),
    ],
    traits: { queueable: true, root: true },
    dbus: txMethod('Cleanup', [{ name: 'what', type: 'as', check: 'cleanup-target' }]),
    polkit: POLKIT.cleanup,
    title: (r) => `cleanup ${r.what.join(' ')}`,
    // Nothing named: remove the extra deployments and prune (as the command line always did).
    build: (v) => ({ kind: 'cleanup', what: [...new Set(list(v, 'what'))] as CleanupTarget[], options: {} }),
    values: (r) => ({ args: { what: r.what }, options: new Map() }),
    runner: bootconfig,
  }),
  op({
    kind: 'pin',
    verb: ['pin'],
    description: 'Pin a deployment so that no update or cleanup removes it (ostree admin pin)',
    positionals: [
      {
        name: 'index',
        help: 'deployment index, as "apt-ostree status" lists them (0 = first)',
        required: true,
        complete: 'deployment-index',
      },
    ],
    options: [flag('unpin', 'remove the pin', { short: 'u' })],
    traits: { queueable: true, root: true, unchangedExit77: true },
    dbus: txMethod('PinDeployment', [{ name: 'index', type: 'i', check: 'index' }]),
    polkit: POLKIT.deploy,
    title: () => 'pin',
    cliCheck: (v) => {
      const index = String(v.args.index);
      if (!/^\d+$/.test(index))
        throw usageError(`"${index}" is not a deployment index`, 'give the number "apt-ostree status" shows (0 = first)');
    },
    build: (v) => ({ kind: 'pin', index: v.args.index as number, unpin: on(v, 'unpin'), options: {} }),
    values: (r) => ({ args: { index: r.index }, options: new Map(r.unpin ? [['unpin', true]] : []) }),
    runner: bootconfig,
  }),
  op({
    kind: 'apply-live',
    verb: ['apply-live'],
    description:
      'Apply the pending deployment (or --target) to the running /usr through a transient overlay, without a reboot; by default only additions',
    positionals: [],
    options: APPLY_LIVE_OPTIONS,
    traits: { queueable: true, root: true, unchangedExit77: true },
    dbus: txMethod('ApplyLive', []),
    polkit: POLKIT.applyLive,
    title: (r) => (r.options.reset ? 'apply-live --reset' : r.options.target ? `apply-live --target ${r.options.target}` : 'apply-live'),
    cliCheck: (_v, given) => {
      if (given.has('target') && given.has('reset')) throw usageError('--target and --reset exclude each other');
    },
    build(v) {
      const o = fields(APPLY_LIVE_OPTIONS, v) as ApplyLiveOptions;
      if (o.target !== undefined && o.reset) throw usageError('ApplyLive takes either "target" or "reset", not both');
      return {
        kind: 'apply-live',
        options: { ...(o.target !== undefined ? { target: o.target } : {}), reset: o.reset, allowReplacement: o.allowReplacement },
      };
    },
    values: (r) => ({ args: {}, options: keys(APPLY_LIVE_OPTIONS, r.options) }),
    runner: { module: 'live', run: (m, ctx, req) => m.runApplyLive(ctx, req as Req<'apply-live'>) },
  }),
  op({
    kind: 'usroverlay',
    verb: ['usroverlay'],
    aliases: ['unlock'],
    description: 'Make /usr of the booted deployment writable with an overlay (ostree admin unlock); the changes are gone after a reboot',
    positionals: [],
    options: USROVERLAY_OPTIONS,
    traits: { queueable: true, root: true },
    dbus: txMethod('UsrOverlay', []),
    polkit: POLKIT.usroverlay,
    title: (r) => (r.options.hotfix ? 'usroverlay --hotfix' : r.options.transient ? 'usroverlay --transient' : 'usroverlay'),
    cliCheck: (_v, given) => {
      if (given.has('hotfix') && given.has('transient')) throw usageError('--hotfix and --transient exclude each other');
    },
    build(v) {
      const o = fields(USROVERLAY_OPTIONS, v) as { hotfix: boolean; transient: boolean };
      if (o.hotfix && o.transient) throw usageError('UsrOverlay takes either "hotfix" or "transient", not both');
      return { kind: 'usroverlay', options: o };
    },
    values: (r) => ({ args: {}, options: keys(USROVERLAY_OPTIONS, r.options) }),
    runner: { module: 'live', run: (m, ctx, req) => m.runUsrOverlay(ctx, req as Req<'usroverlay'>) },
  }),
  op({
    kind: 'automatic-update',
    verb: ['automatic-update'],
    description: 'Run the automatic update policy once (AutomaticUpdatePolicy in apt-ostreed.conf)',
    positionals: [],
    options: [
      flag('trigger', 'run the configured policy (the default action)', { client: true }),
      {
        long: 'mode',
        type: 'string',
        valueName: 'mode',
        help: 'none, check or stage, instead of the configured policy',
        choices: ['none', 'check', 'stage'] satisfies Automatic.AutomaticUpdatePolicy[],
        choiceAliases: { off: 'none' },
        field: 'mode',
      },
      {
        long: 'scope',
        type: 'string',
        valueName: 'scope',
        help: 'full or security, instead of the configured scope',
        choices: ['full', 'security'] satisfies Automatic.AutomaticUpdateScope[],
        field: 'scope',
      },
    ],
    traits: { queueable: true, root: true, hidden: true },
    // (false, "/") when the policy in force (or the "mode" option) is none: no transaction.
    dbus: txMethod('AutomaticUpdateTrigger', [], [{ name: 'enabled', type: 'b' }, TX]),
    polkit: POLKIT.upgrade,
    title: () => 'automatic-update',
    build(v) {
      const o = fields(this.options, v) as { mode?: Automatic.AutomaticUpdatePolicy; scope?: Automatic.AutomaticUpdateScope };
      return { kind: 'automatic-update', options: { ...(o.mode ? { mode: o.mode } : {}), ...(o.scope ? { scope: o.scope } : {}) } };
    },
    values(r) {
      return { args: {}, options: keys(this.options, r.options) };
    },
    runner: {
      module: 'automatic',
      run: (m, ctx, req) => {
        // mode/scope: what the caller left out comes from the configuration in force (the daemon fills them in first).
        return m.runAutomaticUpdate(ctx, m.automaticRunMode((req as Req<'automatic-update'>).options));
      },
    },
  }),
] as const satisfies readonly AnyOperation[];

// ---------------------------------------------------------------------------
// Verbs that are not transactions

const JSON_FLAG = flag('json', 'print JSON');
const cmd = (e: Omit<CommandEntry, 'type'>): CommandEntry => ({ type: 'command', ...e });
const str = (long: string, valueName: string, help: string, more: Partial<OptionSpec> = {}): OptionSpec => ({
  long,
  type: 'string',
  valueName,
  help,
  client: true,
  ...more,
});
const strList = (long: string, valueName: string, help: string): OptionSpec => ({
  long,
  type: 'string-list',
  valueName,
  help,
  client: true,
  default: [],
});

export const COMMANDS: readonly CommandEntry[] = [
  cmd({
    verb: ['status'],
    description: 'Show the deployments of the system',
    positionals: [],
    options: [
      flag('json', 'print JSON shaped like rpm-ostree status --json'),
      flag('booted', 'only the booted deployment', { short: 'b' }),
      flag('verbose', 'full checksums and more detail', { short: 'v' }),
    ],
    traits: { local: true },
    dbus: { name: 'GetStatus', in: [], out: [{ name: 'status', type: 's' }] },
  }),
  cmd({
    verb: ['compose'],
    description: 'Build trees, sysroots and disk images',
    positionals: [],
    options: [],
    traits: { local: true, root: true },
    group: true,
  }),
  cmd({
    verb: ['compose', 'tree'],
    description: 'Build a Debian tree with mmdebstrap and commit it',
    positionals: [{ name: 'treefile', help: 'YAML treefile', required: true, complete: 'file' }],
    options: [
      str('repo', 'repo', 'OSTree repository to commit to (archive mode, created when missing)', { required: true }),
      str('ed25519-key', 'file', 'sign the commit and the summary with this ed25519 secret key (ostree sign)'),
      str('gpg-sign', 'keyid', 'sign the commit and the summary with this GPG key'),
      str('gpg-homedir', 'dir', 'GnuPG home directory holding the --gpg-sign key'),
      flag('static-delta', 'generate a static delta from the previous commit of the ref'),
      flag('force', 'commit even when the inputs did not change'),
      str('workdir', 'dir', 'where to build the tree (default: REPO/tmp)'),
    ],
    traits: { local: true, root: true, unchangedExit77: 'exit with status 77 when nothing changed' },
  }),
  cmd({
    verb: ['compose', 'sysroot'],
    description: 'Initialize DIR as an OSTree sysroot and deploy REF as its first deployment',
    positionals: [{ name: 'dir', help: 'directory to make the sysroot in (new or empty)', required: true, complete: 'file' }],
    options: [
      str('repo', 'repo', 'OSTree repository holding REF', { required: true }),
      str('ref', 'ref', 'ref to deploy', { required: true }),
      str('stateroot', 'name', 'stateroot (OS name)', { default: 'debian' }),
      strList('karg', 'K=V', 'kernel argument of the first deployment (repeatable)'),
      str('remote', 'NAME=URL', 'configure a remote to follow; the origin becomes NAME:REF'),
      strList(
        'sign-verify',
        'TYPE=inline:KEY',
        'with --remote: require signatures (ostree remote add --sign-verify, e.g. ed25519=inline:KEY)',
      ),
      str('gpg-import', 'file', 'with --remote: require GPG signatures by the keys of FILE'),
    ],
    traits: { local: true, root: true },
  }),
  cmd({
    verb: ['compose', 'image'],
    description:
      'Write a UEFI-bootable disk image (GPT: EFI system partition with GRUB, /boot, root) holding REF deployed in an OSTree sysroot',
    positionals: [
      { name: 'out', help: 'disk image file to write (OUT.img, or OUT.qcow2 with --format qcow2)', required: true, complete: 'file' },
    ],
    options: [
      str('repo', 'repo', 'OSTree repository holding REF', { required: true }),
      str('ref', 'ref', 'ref to deploy (its tree must have a real kernel and GRUB)', { required: true }),
      str('size', 'size', 'disk size, e.g. 8G (default: the ESP, /boot, and room for the tree twice over plus 1 GiB)'),
      str('format', 'format', 'raw or qcow2', { default: 'raw' }),
      strList(
        'karg',
        'K=V',
        'kernel argument, after the defaults root=UUID=… rw console=ttyS0 (repeatable; root= or console= replaces the default)',
      ),
      str('stateroot', 'name', 'stateroot (OS name)', { default: 'debian' }),
      str('remote', 'NAME=URL', 'configure a remote to follow in the image; the origin becomes NAME:REF'),
      flag('force', 'replace OUT if it exists', { default: false }),
    ],
    traits: { local: true, root: true },
  }),
  cmd({
    verb: ['override'],
    description: 'Remove or replace packages of the base in a new deployment',
    positionals: [],
    options: [],
    traits: { root: true },
    group: true,
  }),
  cmd({
    verb: ['db'],
    description: 'Query the packages of commits (from their metadata; nothing is checked out)',
    positionals: [],
    options: [],
    traits: { local: true },
    group: true,
  }),
  cmd({
    verb: ['db', 'list'],
    description: 'List the packages of commits',
    positionals: [{ name: 'revisions', help: 'commits or refs (default: every deployment)', variadic: true }],
    options: [JSON_FLAG],
    traits: { local: true },
  }),
  cmd({
    verb: ['db', 'diff'],
    description: 'Show the packages added, removed, upgraded and downgraded between two commits',
    positionals: [
      { name: 'from', help: 'commit or ref to compare from (default: the booted deployment, or the rollback one)' },
      { name: 'to', help: 'commit or ref to compare to (default: the pending deployment, or the default one)' },
    ],
    options: [JSON_FLAG],
    traits: { local: true },
  }),
  cmd({
    verb: ['cancel'],
    description: 'Cancel the transaction in progress (through the daemon)',
    positionals: [],
    options: [],
    traits: {},
    dbus: { name: 'CancelActive', in: [], out: [{ name: 'cancelled', type: 'o' }] },
    polkit: POLKIT.cancel,
  }),
  cmd({
    verb: ['bootstatus'],
    description: 'Log which deployment booted, and whether it is the default or a rollback',
    positionals: [],
    options: [flag('json', 'print the report as JSON on stdout instead')],
    traits: { local: true, hidden: true },
  }),
  cmd({
    verb: ['countme'],
    description: 'Send the anonymous usage count if one is due in this 7-day window',
    positionals: [],
    options: [
      str('config', 'path', 'configuration file (default: /etc/apt-ostree/apt-ostreed.conf)'),
      str('state-dir', 'dir', 'where the window state is kept (default: $STATE_DIRECTORY, else /var/lib/apt-ostree/countme)'),
      str('now', 'time', 'pretend the current time is this ISO 8601 date (tests)'),
      flag('json', 'print the outcome as JSON'),
    ],
    traits: { local: true, hidden: true },
  }),
  cmd({
    verb: ['reload'],
    description: 'Make the daemon read its configuration again',
    positionals: [],
    options: [],
    traits: {},
    // The problems found in the configuration (each names key and value; the previous value is kept).
    dbus: { name: 'Reload', in: [], out: [{ name: 'problems', type: 'as' }] },
    polkit: POLKIT.reload,
  }),
];

/** The order of the verbs in help and man pages. */
const VERB_ORDER: readonly string[] = [
  'status',
  'compose',
  // sysroot and boot configuration
  'rollback',
  'kargs',
  'cleanup',
  'pin',
  // updates from a remote, and package queries
  'upgrade',
  'deploy',
  'rebase',
  'initramfs',
  'db',
  // package layering
  'install',
  'uninstall',
  'override',
  'reset',
  'refresh-md',
  // changes without a reboot
  'apply-live',
  'usroverlay',
  // the daemon's transactions
  'cancel',
  // run by systemd units (hidden)
  'bootstatus',
  'countme',
  'automatic-update',
  'reload',
];

const rank = (e: Entry): number => {
  const i = VERB_ORDER.indexOf(e.verb[0]!);
  return i < 0 ? VERB_ORDER.length : i;
};

/** Every entry, in the order of help and man pages (subcommands after their group, in declaration order). */
export const ENTRIES: readonly Entry[] = [...OPERATIONS, ...COMMANDS]
  .map((e, i) => ({ e, i }))
  .sort((x, y) => rank(x.e) - rank(y.e) || x.i - y.i)
  .map((x) => x.e);

/** The first words of every verb, in order. */
export const VERB_NAMES: readonly string[] = [...new Set(ENTRIES.map((e) => e.verb[0]!))];

export function operationOf(kind: OperationKind): AnyOperation {
  const e = (OPERATIONS as readonly AnyOperation[]).find((x) => x.kind === kind);
  if (!e) throw usageError(`no operation "${kind}"`);
  return e;
}

export function entryOf(verb: readonly string[]): Entry | undefined {
  return ENTRIES.find((e) => e.verb.length === verb.length && e.verb.every((w, i) => w === verb[i]));
}

/** The entries under a verb (its subcommands), for a group verb. */
export function subEntries(verb: string): Entry[] {
  return ENTRIES.filter((e) => e.verb.length === 2 && e.verb[0] === verb);
}

/** Human title of a request, for transaction titles and logs. */
export function describeRequest(r: OperationRequest): string {
  const e = operationOf(r.kind);
  return (e.title as (x: OperationRequest) => string)(r);
}

/** The D-Bus methods of the daemon that make a transaction, each with the entries that use it. */
export function transactionMethods(): Map<string, AnyOperation[]> {
  const out = new Map<string, AnyOperation[]>();
  for (const e of OPERATIONS as readonly AnyOperation[]) out.set(e.dbus.name, [...(out.get(e.dbus.name) ?? []), e]);
  return out;
}
