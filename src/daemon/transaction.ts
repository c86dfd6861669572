/**
 * One transaction: a request the daemon runs for its clients, exported as
 * /org/aptostree/dev/transaction/N. It is created by a method call, waits for
 * Start(), then (when its turn comes) runs the engine; its progress goes out
 * as signals of that object, and its outcome stays readable in the State and
 * Result properties until the object is dropped a while after the end.
 */
import { AptOstreeError, CancelledError, toAptOstreeError } from '../engine/errors';
import { log } from '../engine/log';
import { rebootDecision } from '../engine/operations';
import { describeRequest } from '../engine/operations/registry';
import type { OperationRequest, OperationResult } from '../engine/operations/types';
import type { Progress } from '../engine/progress';
import type { BusConnection } from '../dbus/bus';
import {
  TRANSACTION_IFACE,
  TRANSACTION_INTERFACE,
  TRANSACTION_PATH_PREFIX,
  type TransactionResult,
  type TransactionState,
} from '../dbus/contract';
import type { ExportedInterface, MethodHandler, ObjectServer } from '../dbus/server';

export interface TransactionDeps {
  bus: BusConnection;
  /** The sysroot served: a reboot asked for happens only when it is the running system. */
  sysroot: string;
  server: ObjectServer;
  /** Runs the engine. */
  execute(req: OperationRequest, progress: Progress, signal: AbortSignal): Promise<OperationResult>;
}

export class Transaction {
  readonly path: string;
  readonly title: string;
  /**
   * Connections that may Start() and Cancel() it without asking polkit: the
   * initiator and those that joined. Its signals go to them only.
   */
  readonly clients = new Set<string>();
  state: TransactionState = 'created';
  result: TransactionResult | undefined;
  started = false;
  readonly abort = new AbortController();
  private readonly startWaiters: Array<() => void> = [];
  readonly createdAt = Date.now();
  startedAt = 0;

  constructor(
    readonly id: number,
    readonly method: string,
    readonly request: OperationRequest,
    readonly key: string,
    readonly initiator: string,
    private readonly deps: TransactionDeps,
  ) {
    this.path = `${TRANSACTION_PATH_PREFIX}${id}`;
    this.title = describeRequest(request);
    this.clients.add(initiator);
  }

  get finished(): boolean {
    return this.state === 'succeeded' || this.state === 'failed' || this.state === 'cancelled';
  }

  export(methods: { Start: MethodHandler; Cancel: MethodHandler }): void {
    const iface: ExportedInterface = {
      spec: TRANSACTION_INTERFACE,
      methods,
      property: (name) => {
        switch (name) {
          case 'Title':
            return this.title;
          case 'Method':
            return this.method;
          case 'InitiatingClient':
            return this.initiator;
          case 'State':
            return this.state;
          case 'Result':
            return this.result ? JSON.stringify(this.result) : '';
          default:
            return '';
        }
      },
    };
    this.deps.server.export(this.path, [iface]);
  }

  unexport(): void {
    this.deps.server.unexport(this.path);
  }

  private setState(s: TransactionState): void {
    this.state = s;
    this.deps.server.propertiesChanged(this.path, TRANSACTION_IFACE, ['State', 'Result'], [...this.clients]);
  }

  /** Mark started; resolves waiters. Returns false when it already was. */
  markStarted(): boolean {
    if (this.started) return false;
    this.started = true;
    for (const w of this.startWaiters.splice(0)) w();
    return true;
  }

  /** Resolves when Start() was called. */
  waitStarted(): Promise<void> {
    if (this.started) return Promise.resolve();
    return new Promise((r) => this.startWaiters.push(r));
  }

  setQueued(): void {
    if (!this.finished && this.state !== 'running') this.setState('queued');
  }

  /**
   * A signal of this object, sent unicast to each of its clients only: its
   * progress and errors are nobody else's business (a broadcast would reach
   * every connection with a match rule, of any user).
   */
  private signal(member: string, signature: string, body: unknown[]): void {
    for (const dest of this.clients) {
      try {
        this.deps.bus.signal(this.path, TRANSACTION_IFACE, member, signature, body, dest);
      } catch (e) {
        log.debug(`signal ${member} not sent to ${dest}: ${(e as Error).message}`);
      }
    }
  }

  /** The engine's progress as signals of this object. */
  private progress(): Progress {
    return {
      taskBegin: (name) => {
        log.info(`[${this.id}] ${name}`);
        this.signal('TaskBegin', 's', [name]);
      },
      taskEnd: (summary) => this.signal('TaskEnd', 's', [summary]),
      message: (text) => {
        log.info(`[${this.id}] ${text}`);
        this.signal('Message', 's', [text]);
      },
      percent: (text, percent) => this.signal('PercentProgress', 'su', [text, Math.max(0, Math.min(100, Math.round(percent)))]),
      download: (done, total) =>
        this.signal('DownloadProgress', 'tt', [BigInt(Math.max(0, Math.floor(done))), BigInt(Math.max(0, Math.floor(total)))]),
    };
  }

  /** Run the engine (the caller guarantees it is this transaction's turn). */
  async run(timeoutSeconds: number): Promise<void> {
    if (this.finished) return;
    this.startedAt = Date.now();
    this.setState('running');
    log.notice(`transaction ${this.id} (${this.title}) started by ${this.initiator}`);
    let timer: NodeJS.Timeout | undefined;
    let reboot: ReturnType<typeof rebootDecision>;
    if (timeoutSeconds > 0) {
      timer = setTimeout(() => {
        log.warning(`transaction ${this.id} (${this.title}) ran longer than TransactionTimeout=${timeoutSeconds}; cancelling it`);
        this.timedOut = true;
        this.abort.abort();
      }, timeoutSeconds * 1000);
      timer.unref();
    }
    try {
      if (this.abort.signal.aborted) throw new CancelledError(`"${this.title}"`);
      const r = await this.deps.execute(this.request, this.progress(), this.abort.signal);
      reboot = rebootDecision(this.deps.sysroot, r);
      this.finish({
        success: true,
        changed: r.changed,
        summary: r.summary,
        deployment: r.deployment,
        rebootRequested: r.rebootRequested,
        ...(reboot ? { rebootNote: reboot.note } : {}),
      });
    } catch (e) {
      let err = toAptOstreeError(e);
      if (this.abort.signal.aborted && err.code !== 'cancelled') {
        err = new CancelledError(`"${this.title}"`);
      }
      if (this.timedOut)
        err = new AptOstreeError(
          'cancelled',
          `"${this.title}" was cancelled after TransactionTimeout (${timeoutSeconds} s); nothing was deployed`,
        );
      this.finish({
        success: false,
        changed: false,
        summary: err.message,
        error: err.message,
        code: err.code,
        ...(err.hint ? { hint: err.hint } : {}),
        ...(err.details ? { details: err.details } : {}),
      });
    } finally {
      if (timer) clearTimeout(timer);
    }
    // After the result is published, under the authorization checked for this call.
    reboot?.reboot?.();
  }

  private timedOut = false;

  /** End without running (cancelled before its turn, or dropped). */
  cancelUnstarted(why: string): void {
    if (this.finished) return;
    this.abort.abort();
    const err = new CancelledError(`"${this.title}"`);
    this.finish({ success: false, changed: false, summary: err.message, error: `${err.message} (${why})`, code: 'cancelled' });
    for (const w of this.startWaiters.splice(0)) w();
  }

  private finish(r: TransactionResult): void {
    this.result = r;
    const state: TransactionState = r.success ? 'succeeded' : r.code === 'cancelled' ? 'cancelled' : 'failed';
    if (r.success) log.notice(`transaction ${this.id} (${this.title}) done: ${r.summary}`);
    else
      log[state === 'cancelled' ? 'notice' : 'warning'](
        `transaction ${this.id} (${this.title}) ${state}: ${new AptOstreeError(r.code ?? 'internal', r.error ?? '', r).describe()}`,
      );
    this.setState(state);
    this.signal('Finished', 'bs', [r.success, r.success ? '' : (r.error ?? 'failed')]);
  }
}
