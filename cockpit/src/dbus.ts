/**
 * apt-ostreed over Cockpit's D-Bus channel (system bus, through the bridge):
 * the status, the daemon's properties, and running one operation as a
 * transaction (subscribe to its signals, Start, wait for Finished, read
 * Result). The page never runs the apt-ostree command.
 */
import type { Cockpit, CockpitDBusClient, CockpitDBusError, CockpitVariant } from './cockpit';
import { BadData, parseResult, parseStatus, type Status, type TransactionResult } from './model';

export const BUS_NAME = 'org.aptostree.dev';
export const OBJECT_PATH = '/org/aptostree/dev';
export const DAEMON_IFACE = 'org.aptostree.dev.Daemon';
export const TRANSACTION_IFACE = 'org.aptostree.dev.Transaction';
const PROPS_IFACE = 'org.freedesktop.DBus.Properties';

/** An error to show: what failed and, when the engine gave one, what to do. */
export interface ShownError {
  message: string;
  hint?: string;
  /** D-Bus error name (e.g. org.aptostree.dev.Error.Busy), when the call failed. */
  name?: string;
}

export function toShownError(e: unknown, what?: string): ShownError {
  if (e instanceof BadData) return { message: `${what ? `${what}: ` : ''}the daemon sent unexpected data: ${e.message}` };
  if (e && typeof e === 'object') {
    const x = e as CockpitDBusError;
    const message = typeof x.message === 'string' && x.message !== '' ? x.message : (x.problem ?? x.name ?? String(e));
    return { message, ...(x.name ? { name: x.name } : {}) };
  }
  return { message: String(e) };
}

export interface DaemonProperties {
  sysroot: string;
  booted: string;
  activeTransaction: string;
  policy: string;
  scope: string;
  lastRun: string;
  version: string;
}

/** Progress of a running transaction, from its signals. */
export type TransactionEvent =
  | { kind: 'message'; text: string }
  | { kind: 'task-begin'; name: string }
  | { kind: 'task-end'; summary: string }
  | { kind: 'percent'; text: string; percent: number }
  | { kind: 'download'; done: number; total: number }
  | { kind: 'finished'; success: boolean; error: string };

/** a{sv} of boolean and string-list options, as Cockpit encodes variants. */
export type Options = Record<string, boolean | string[]>;

function encodeOptions(o: Options): Record<string, CockpitVariant> {
  const out: Record<string, CockpitVariant> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === 'boolean' ? { t: 'b', v } : { t: 'as', v };
  return out;
}

const variantString = (v: unknown): string => {
  const x = v as Partial<CockpitVariant> | null;
  return x && typeof x === 'object' && typeof x.v === 'string' ? x.v : '';
};

function eventOf(signal: string, args: unknown[]): TransactionEvent | undefined {
  const s = (i: number): string => (typeof args[i] === 'string' ? (args[i] as string) : '');
  const n = (i: number): number => (typeof args[i] === 'number' ? (args[i] as number) : Number(args[i] ?? 0));
  switch (signal) {
    case 'Message':
      return { kind: 'message', text: s(0) };
    case 'TaskBegin':
      return { kind: 'task-begin', name: s(0) };
    case 'TaskEnd':
      return { kind: 'task-end', summary: s(0) };
    case 'PercentProgress':
      return { kind: 'percent', text: s(0), percent: n(1) };
    case 'DownloadProgress':
      return { kind: 'download', done: n(0), total: n(1) };
    case 'Finished':
      return { kind: 'finished', success: args[0] === true, error: s(1) };
    default:
      return undefined;
  }
}

const FINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

export class DaemonClient {
  private readonly client: CockpitDBusClient;

  constructor(cockpit: Cockpit) {
    // superuser "try": the bridge's administrative channel when the session has it, the user's own otherwise.
    this.client = cockpit.dbus(BUS_NAME, { bus: 'system', superuser: 'try' });
  }

  async status(): Promise<Status> {
    const [text] = await this.client.call(OBJECT_PATH, DAEMON_IFACE, 'GetStatus', [], { type: '' });
    if (typeof text !== 'string') throw new BadData('GetStatus did not return a string');
    return parseStatus(text);
  }

  async properties(): Promise<DaemonProperties> {
    const [all] = await this.client.call(OBJECT_PATH, PROPS_IFACE, 'GetAll', [DAEMON_IFACE], { type: 's' });
    const p = (all ?? {}) as Record<string, unknown>;
    return {
      sysroot: variantString(p.Sysroot),
      booted: variantString(p.Booted),
      activeTransaction: variantString(p.ActiveTransaction) || '/',
      policy: variantString(p.AutomaticUpdatePolicy),
      scope: variantString(p.AutomaticUpdateScope),
      lastRun: variantString(p.AutomaticUpdateLastRun),
      version: variantString(p.Version),
    };
  }

  /** Calls `onChange` whenever the daemon announces a property change (a transaction begins or ends, a run of automatic updates). */
  onPropertiesChanged(onChange: () => void): () => void {
    const sub = this.client.subscribe({ path: OBJECT_PATH, interface: PROPS_IFACE, member: 'PropertiesChanged' }, () => onChange());
    return () => sub.remove();
  }

  /**
   * Run a daemon method that makes a transaction (signature without the
   * trailing a{sv}; `args` before the options) and follow it to its end.
   * `onStarted` receives the transaction's object path (for Cancel).
   */
  async run(
    method: string,
    signature: string,
    args: unknown[],
    options: Options,
    onEvent: (e: TransactionEvent) => void,
    onStarted: (path: string) => void,
  ): Promise<TransactionResult> {
    const [path] = await this.client.call(OBJECT_PATH, DAEMON_IFACE, method, [...args, encodeOptions(options)], {
      type: `${signature}a{sv}`,
      timeout: 600000,
    });
    if (typeof path !== 'string' || !path.startsWith('/')) throw new BadData(`${method} did not return an object path`);
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const sub = this.client.subscribe({ path, interface: TRANSACTION_IFACE }, (_p, _i, signal, a) => {
      const e = eventOf(signal, a);
      if (!e) return;
      onEvent(e);
      if (e.kind === 'finished') done();
    });
    // The State property as well: a transaction this call joined may end before the subscription is in place.
    let polling = true;
    const poll = async (): Promise<void> => {
      while (polling) {
        await new Promise((r) => setTimeout(r, 1500));
        if (!polling) return;
        try {
          if (FINAL_STATES.has(await this.transactionProperty(path, 'State'))) done();
        } catch {
          /* the next signal or poll decides */
        }
      }
    };
    try {
      onStarted(path);
      await this.client.call(path, TRANSACTION_IFACE, 'Start', [], { type: '' });
      void poll();
      await finished;
    } finally {
      polling = false;
      sub.remove();
    }
    return parseResult(await this.transactionProperty(path, 'Result'));
  }

  async cancel(path: string): Promise<void> {
    await this.client.call(path, TRANSACTION_IFACE, 'Cancel', [], { type: '' });
  }

  private async transactionProperty(path: string, name: string): Promise<string> {
    const [v] = await this.client.call(path, PROPS_IFACE, 'Get', [TRANSACTION_IFACE, name], { type: 'ss' });
    return variantString(v);
  }

  /** Reboot through systemd-logind (only ever offered on the running system, Sysroot "/"). */
  async reboot(cockpit: Cockpit): Promise<void> {
    const login = cockpit.dbus('org.freedesktop.login1', { bus: 'system', superuser: 'try' });
    try {
      await login.call('/org/freedesktop/login1', 'org.freedesktop.login1.Manager', 'Reboot', [false], { type: 'b' });
    } finally {
      login.close();
    }
  }
}
