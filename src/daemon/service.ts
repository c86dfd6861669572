/**
 * The service object /org/aptostree/dev (org.aptostree.dev.Daemon) and the
 * transaction queue behind it.
 *
 * One transaction at a time: the unfinished transactions form a FIFO whose
 * head is the active one (property ActiveTransaction). A request identical to
 * an unfinished one joins it (same object path). A different request fails
 * with org.aptostree.dev.Error.Busy, unless it carries the option "queue":
 * then it is appended and runs when its turn comes (after Start()).
 */
import { lastRunJson } from '../engine/automatic';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../engine/log';
import type { DaemonConfig } from '../engine/config';
import { runOperation } from '../engine/operations';
import type { OperationRequest, OperationResult } from '../engine/operations/types';
import { getStatus } from '../engine/status';
import { loadSysroot } from '../engine/sysroot';
import { VERSION } from '../engine/version';
import type { Progress } from '../engine/progress';
import { FLAG_ALLOW_INTERACTIVE_AUTHORIZATION, type BusConnection, type DBusMessage } from '../dbus/bus';
import {
  ACCESS_DENIED,
  DAEMON_IFACE,
  DAEMON_INTERFACE,
  decodeCall,
  errorNameOf,
  METHOD_ACTIONS,
  OBJECT_PATH,
  requestKey,
} from '../dbus/contract';
import { accessDenied, ObjectServer, ReplyError, type MethodHandler, type Reply } from '../dbus/server';
import { copyAsCaller, localDebDir, localDebsOf, withCopies } from './localdeb';
import { Authorizer } from './polkit';
import { Transaction } from './transaction';

/** Transactions waiting in all (the active one included): beyond, a queued request is Busy. */
export const MAX_QUEUE = 16;

export interface ServiceOptions {
  sysroot: string;
  config: () => DaemonConfig;
  /** Re-read the configuration file (Reload); returns the problems found (already logged). */
  reload: () => string[];
  /** Seconds a finished transaction stays on the bus. */
  linger?: number;
  /** Seconds an unstarted transaction waits for Start() before it is dropped (default 30; it blocks others meanwhile). */
  startTimeout?: number;
  /** Called when the daemon has been idle for IdleExitTimeout. */
  onIdle: () => void;
}

type Msg = DBusMessage & { sender: string };

export class DaemonService {
  readonly server: ObjectServer;
  private readonly auth: Authorizer;
  private readonly order: Transaction[] = [];
  private readonly lingering = new Map<string, Transaction>();
  private nextId = 1;
  private booted = '';
  private idleTimer: NodeJS.Timeout | undefined;
  private running = false;
  /** Method calls not answered yet (a pending polkit check among them): they keep the daemon from exiting. */
  private inFlight = 0;
  /** The directory of the local .deb copies a transaction uses, removed when it ends. */
  private readonly copies = new Map<Transaction, string>();
  /** AutomaticUpdateLastRun: re-read from the state file at start and after each automatic run. */
  private lastRun = '';

  constructor(
    private readonly bus: BusConnection,
    private readonly opts: ServiceOptions,
  ) {
    this.server = new ObjectServer(bus);
    this.auth = new Authorizer(bus);
  }

  async start(): Promise<void> {
    await this.refreshBooted();
    await this.refreshLastRun();
    const m =
      (fn: (msg: Msg) => Promise<Reply> | Reply): MethodHandler =>
      async (msg) => {
        this.touch();
        this.inFlight++;
        try {
          return await fn(msg);
        } finally {
          this.inFlight--;
          this.touch();
        }
      };
    const methods: Record<string, MethodHandler> = {
      Ping: m(() => ({ signature: 's', body: ['pong'] })),
      GetStatus: m(() => this.getStatus()),
      Reload: m(async (msg) => {
        await this.authorize(msg, 'Reload', 'reloading the configuration');
        log.notice(`reloading the configuration (asked by ${msg.sender})`);
        const problems = this.reload();
        return { signature: 'as', body: [problems] };
      }),
      CancelActive: m(async (msg) => {
        const t = this.order[0];
        if (!t) return { signature: 'o', body: ['/'] };
        if (!(await this.mayCancel(t, msg, 'CancelActive'))) return { signature: 'o', body: [t.path] };
        this.cancel(t, msg.sender);
        return { signature: 'o', body: [t.path] };
      }),
    };
    for (const spec of DAEMON_INTERFACE.methods) {
      if (methods[spec.name]) continue;
      methods[spec.name] = m((msg) => this.changing(spec.name, msg));
    }
    this.server.export(OBJECT_PATH, [
      {
        spec: DAEMON_INTERFACE,
        methods,
        property: (name) => {
          switch (name) {
            case 'Sysroot':
              return this.opts.sysroot;
            case 'Booted':
              return this.booted;
            case 'ActiveTransaction':
              return this.order[0]?.path ?? '/';
            case 'AutomaticUpdatePolicy':
              return this.opts.config().automaticUpdatePolicy;
            case 'AutomaticUpdateScope':
              return this.opts.config().automaticUpdateScope;
            case 'AutomaticUpdateLastRun':
              return this.lastRun;
            case 'Version':
              return VERSION;
            default:
              return '';
          }
        },
      },
    ]);
    // Clients leaving the bus: drop the transactions only they were waiting to start.
    this.bus.on('signal', (s: DBusMessage) => {
      if (s.interface === 'org.freedesktop.DBus' && s.member === 'NameOwnerChanged' && s.sender === 'org.freedesktop.DBus') {
        const [name, , newOwner] = s.body as [string, string, string];
        if (name.startsWith(':') && newOwner === '') this.clientLeft(name);
      }
    });
    await this.bus.addMatch(
      "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',path='/org/freedesktop/DBus'",
    );
    this.touch();
  }

  /**
   * Re-read the configuration (Reload(), SIGHUP): never throws; a value that
   * cannot be used is logged by the loader and the previous one kept.
   * Announces the automatic-update settings when they changed.
   */
  reload(): string[] {
    const before = this.opts.config();
    let problems: string[];
    try {
      problems = this.opts.reload();
    } catch (e) {
      problems = [`the configuration was not reloaded: ${(e as Error).message}; keeping the previous settings`];
      log.warning(problems[0]!);
    }
    const after = this.opts.config();
    const changed: string[] = [];
    if (after.automaticUpdatePolicy !== before.automaticUpdatePolicy) changed.push('AutomaticUpdatePolicy');
    if (after.automaticUpdateScope !== before.automaticUpdateScope) changed.push('AutomaticUpdateScope');
    if (changed.length > 0) {
      log.notice(
        `automatic updates: AutomaticUpdatePolicy=${after.automaticUpdatePolicy}, AutomaticUpdateScope=${after.automaticUpdateScope}`,
      );
      this.server.propertiesChanged(OBJECT_PATH, DAEMON_IFACE, changed);
    }
    this.touch();
    return problems;
  }

  private async refreshLastRun(): Promise<void> {
    try {
      const v = lastRunJson(this.opts.sysroot);
      if (v !== this.lastRun) {
        this.lastRun = v;
        this.server.propertiesChanged(OBJECT_PATH, DAEMON_IFACE, ['AutomaticUpdateLastRun']);
      }
    } catch (e) {
      log.warning(`cannot read the automatic update state of ${this.opts.sysroot}: ${(e as Error).message}`);
    }
  }

  private async refreshBooted(): Promise<void> {
    try {
      const s = await loadSysroot(this.opts.sysroot);
      const b = s.booted?.checksum ?? '';
      if (b !== this.booted) {
        this.booted = b;
        this.server.propertiesChanged(OBJECT_PATH, DAEMON_IFACE, ['Booted']);
      }
    } catch (e) {
      log.warning(`cannot read the sysroot ${this.opts.sysroot}: ${(e as Error).message}`);
    }
  }

  private async getStatus(): Promise<Reply> {
    const c = this.opts.config();
    const st = await getStatus(this.opts.sysroot, { automatic: { policy: c.automaticUpdatePolicy, scope: c.automaticUpdateScope } });
    const t = this.order[0];
    st.transaction = t ? [t.title, t.initiator, t.path, t.state] : null;
    return { signature: 's', body: [JSON.stringify(st)] };
  }

  private async authorize(msg: Msg, method: string, what: string): Promise<void> {
    const action = METHOD_ACTIONS[method];
    if (!action) throw accessDenied(`${method} has no authorization rule`);
    await this.auth.check(msg.sender, action, what, (msg.flags & FLAG_ALLOW_INTERACTIVE_AUTHORIZATION) !== 0);
  }

  /** A method that makes (or joins) a transaction. */
  private async changing(method: string, msg: Msg): Promise<Reply> {
    await this.authorize(msg, method, method);
    const decoded = decodeCall(method, msg.body);
    const queue = decoded.queue;
    let request = decoded.request;
    if (request.kind === 'automatic-update') {
      // The settings in force fill in what the caller left out; with "none" there is nothing to do.
      const c = this.opts.config();
      const mode = request.options.mode ?? c.automaticUpdatePolicy;
      const scope = request.options.scope ?? c.automaticUpdateScope;
      if (mode === 'none') {
        log.info(`${msg.sender}: AutomaticUpdateTrigger with AutomaticUpdatePolicy=none: nothing to do`);
        return { signature: 'bo', body: [false, '/'] };
      }
      request = { kind: 'automatic-update', options: { mode, scope } };
      const path = await this.transactionFor(method, msg, request, queue);
      return { signature: 'bo', body: [true, path] };
    }
    const debs = localDebsOf(request);
    if (debs.length === 0) return { signature: 'o', body: [await this.transactionFor(method, msg, request, queue)] };
    // Local files: read once, as the caller, into copies of the daemon's own; the request names the copies.
    const uid = await this.auth.uidOf(msg.sender);
    const dir = localDebDir(join(this.opts.sysroot, 'ostree', 'repo'));
    try {
      const copies = new Map<string, string>();
      for (const d of debs) if (!copies.has(d)) copies.set(d, await copyAsCaller(d, uid, dir));
      const path = await this.transactionFor(method, msg, withCopies(request, copies), queue);
      const t = this.order.find((x) => x.path === path);
      if (t) this.copies.set(t, dir);
      else rmSync(dir, { recursive: true, force: true });
      return { signature: 'o', body: [path] };
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The object path of the transaction for a request: joined when the same one is unfinished, else a new one. */
  private async transactionFor(method: string, msg: Msg, request: OperationRequest, queue: boolean): Promise<string> {
    const key = requestKey(request);
    const same = this.order.find((t) => t.key === key && !t.finished);
    if (same) {
      same.clients.add(msg.sender);
      log.info(`${msg.sender} joins transaction ${same.id} (${same.title})`);
      return same.path;
    }
    const head = this.order[0];
    if (head && queue && this.order.length >= MAX_QUEUE) {
      throw new ReplyError(
        errorNameOf('busy'),
        `${this.order.length} transactions are already waiting (at most ${MAX_QUEUE}); try again when "${head.title}" (${head.path}) is done`,
      );
    }
    if (head && !queue) {
      throw new ReplyError(
        errorNameOf('busy'),
        `another transaction is in progress: "${head.title}" (${head.path}, ${head.state}, started by ${head.initiator}); wait for it, cancel it (apt-ostree cancel), or pass --queue to wait your turn`,
      );
    }
    const t = new Transaction(this.nextId++, method, request, key, msg.sender, {
      bus: this.bus,
      sysroot: this.opts.sysroot,
      server: this.server,
      execute: (req, progress, signal) => this.execute(req, progress, signal),
    });
    t.export({
      Start: (m) => this.startTx(t, m),
      Cancel: async (m) => {
        if (!(await this.mayCancel(t, m, 'Cancel'))) return { signature: '', body: [] };
        this.cancel(t, m.sender);
        return { signature: '', body: [] };
      },
    });
    this.order.push(t);
    if (this.order.length > 1) t.setQueued();
    log.info(
      `transaction ${t.id} (${t.title}) created for ${msg.sender}${this.order.length > 1 ? `, queued behind ${this.order.length - 1}` : ''}`,
    );
    this.activeChanged();
    const startTimeout = this.opts.startTimeout ?? 30;
    setTimeout(() => {
      if (!t.started && !t.finished) this.drop(t, `not started within ${startTimeout} s`);
    }, startTimeout * 1000).unref();
    void this.pump();
    return t.path;
  }

  private startTx(t: Transaction, m: Msg): Reply {
    if (!t.clients.has(m.sender)) throw accessDenied(`only the client that asked for "${t.title}" (or joined it) may start it`);
    if (t.finished) return { signature: 'b', body: [false] };
    const first = t.markStarted();
    void this.pump();
    return { signature: 'b', body: [first] };
  }

  private execute(req: OperationRequest, progress: Progress, signal: AbortSignal): Promise<OperationResult> {
    let r = req;
    if (r.kind === 'automatic-update') {
      const c = this.opts.config();
      r = {
        kind: 'automatic-update',
        options: { mode: r.options.mode ?? c.automaticUpdatePolicy, scope: r.options.scope ?? c.automaticUpdateScope },
      };
    }
    return runOperation({ sysroot: this.opts.sysroot, progress, signal }, r);
  }

  /** Run the head of the queue once it is started; one at a time. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const t = this.order[0];
        if (!t) break;
        if (!t.finished) {
          await t.waitStarted();
          if (!t.finished) await t.run(this.opts.config().transactionTimeout);
        }
        this.order.shift();
        this.retire(t);
        await this.refreshBooted();
        if (t.request.kind === 'automatic-update') await this.refreshLastRun();
        this.activeChanged();
      }
    } finally {
      this.running = false;
      this.touch();
    }
  }

  private retire(t: Transaction): void {
    const dir = this.copies.get(t);
    if (dir !== undefined) {
      this.copies.delete(t);
      rmSync(dir, { recursive: true, force: true });
    }
    this.lingering.set(t.path, t);
    setTimeout(
      () => {
        this.lingering.delete(t.path);
        t.unexport();
        this.touch();
      },
      (this.opts.linger ?? 60) * 1000,
    ).unref();
  }

  /**
   * Whether `msg`'s sender cancels `t` for everyone: its initiator does, and
   * anyone polkit authorizes for cancelling (root). A client that only
   * joined it, without that authorization, is detached from it instead (it
   * gets no more of its signals; a transaction nobody started and nobody
   * waits for any more is dropped).
   */
  private async mayCancel(t: Transaction, msg: Msg, method: string): Promise<boolean> {
    if (msg.sender === t.initiator) return true;
    try {
      await this.authorize(msg, method, `cancelling "${t.title}"`);
      return true;
    } catch (e) {
      if (!t.clients.has(msg.sender) || !(e instanceof ReplyError) || e.errorName !== ACCESS_DENIED) throw e;
      t.clients.delete(msg.sender);
      log.info(`${msg.sender} leaves transaction ${t.id} (${t.title}), which it joined; it goes on for its other clients`);
      if (!t.started && !t.finished && t.clients.size === 0) this.drop(t, 'its last client left before Start()');
      return false;
    }
  }

  private cancel(t: Transaction, by: string): void {
    log.notice(`transaction ${t.id} (${t.title}) cancelled by ${by}`);
    if (t.finished) return;
    if (t.state === 'running') t.abort.abort();
    else t.cancelUnstarted(`cancelled by ${by}`);
  }

  private drop(t: Transaction, why: string): void {
    log.info(`dropping transaction ${t.id} (${t.title}): ${why}`);
    t.cancelUnstarted(why);
  }

  private clientLeft(name: string): void {
    this.auth.cancelFor(name);
    for (const t of [...this.order]) {
      if (!t.clients.has(name)) continue;
      t.clients.delete(name);
      if (!t.started && !t.finished && t.clients.size === 0) this.drop(t, `its client ${name} left before Start()`);
    }
  }

  private activeChanged(): void {
    this.server.propertiesChanged(OBJECT_PATH, DAEMON_IFACE, ['ActiveTransaction']);
  }

  /** Activity: restart the idle countdown. */
  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const secs = this.opts.config().idleExitTimeout;
    if (secs <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.order.length > 0 || this.running || this.inFlight > 0 || this.auth.outstanding > 0) {
        this.touch();
        return;
      }
      log.info(`idle for ${secs} s with no transaction: exiting`);
      this.opts.onIdle();
    }, secs * 1000);
  }

  /** For shutdown: cancel everything. */
  cancelAll(why: string): void {
    for (const t of this.order) {
      if (t.state === 'running') t.abort.abort();
      else t.cancelUnstarted(why);
    }
  }

  get busy(): boolean {
    return this.order.length > 0;
  }
}
