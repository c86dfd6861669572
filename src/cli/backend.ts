/**
 * Where a changing command runs.
 *
 * Through the daemon (apt-ostreed, org.aptostree.dev on the system bus) when
 * it is on the bus or activatable and serves the sysroot asked for: the
 * request becomes a method call (src/dbus/contract.ts), the client starts the
 * transaction, renders its signals as they come, and Ctrl-C cancels it.
 *
 * Otherwise in-process: root runs the engine itself, with a one-line notice
 * on stderr; anyone else gets a clear error. APT_OSTREE_DIRECT=1 forces
 * in-process (the tests of the engine use it).
 */
import { resolve } from 'node:path';
import { AptOstreeError } from '../engine/errors';
import type { OperationRequest, OperationResult } from '../engine/operations/types';
import type { Progress } from '../engine/progress';
import type { GlobalOptions } from './globals';
import { TerminalProgress } from './progress';
import type { BusConnection, DBusMessage } from '../dbus/bus';

export async function executeOperation(g: GlobalOptions, req: OperationRequest): Promise<OperationResult> {
  if (process.env.APT_OSTREE_DIRECT !== '1') {
    const d = await connectDaemon(g.sysroot);
    if (d.kind === 'daemon') {
      try {
        return await viaDaemon(d.bus, d.owner, req, g.queue === true);
      } finally {
        d.bus.close();
      }
    }
    if (process.getuid?.() !== 0) {
      throw new AptOstreeError('denied', `${d.why}, and only root can change the system without it`, {
        hint: 'start the daemon (systemctl start apt-ostreed.service), or run the command as root',
      });
    }
    process.stderr.write(`apt-ostree: ${d.why}; running in-process\n`);
  }
  return inProcess(g, req);
}

async function inProcess(g: GlobalOptions, req: OperationRequest): Promise<OperationResult> {
  const { runOperation } = await import('../engine/operations');
  const progress = new TerminalProgress();
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    return await runOperation({ sysroot: g.sysroot, progress, signal: ac.signal }, req);
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
  }
}

/** A connection to the system bus, or why there is none. */
async function openSystemBus(timeoutMs: number): Promise<BusConnection | string> {
  const { BusConnection, socketPathOf, systemBusAddress } = await import('../dbus/bus');
  const address = systemBusAddress();
  const sock = socketPathOf(address);
  if (sock !== undefined) {
    const { existsSync } = await import('node:fs');
    if (!existsSync(sock)) return `there is no system bus (${sock})`;
  }
  try {
    return await BusConnection.connect(address, timeoutMs);
  } catch (e) {
    return `the system bus cannot be reached (${(e as Error).message})`;
  }
}

export type DaemonConnection = { kind: 'daemon'; bus: BusConnection; owner: string } | { kind: 'none'; why: string };

/**
 * A connection to the daemon serving `sysroot`, starting it by D-Bus
 * activation when it is activatable; or why there is none.
 */
export async function connectDaemon(sysroot: string): Promise<DaemonConnection> {
  const { BUS_NAME, DAEMON_IFACE, OBJECT_PATH } = await import('../dbus/contract');
  const opened = await openSystemBus(5000);
  if (typeof opened === 'string') return { kind: 'none', why: opened };
  const bus = opened;
  try {
    const has = (await bus.busCall('NameHasOwner', 's', [BUS_NAME])).body[0] === true;
    if (!has) {
      const names = (await bus.busCall('ListActivatableNames')).body[0] as string[];
      if (!names.includes(BUS_NAME)) {
        bus.close();
        return { kind: 'none', why: `the apt-ostree daemon (${BUS_NAME}) is neither running nor activatable` };
      }
    }
    // Reading a property starts an activatable daemon.
    const r = await bus.call({
      destination: BUS_NAME,
      path: OBJECT_PATH,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: [DAEMON_IFACE, 'Sysroot'],
      timeout: 30000,
    });
    const served = String((r.body[0] as { value: unknown }).value);
    if (resolve(served) !== resolve(sysroot)) {
      bus.close();
      return { kind: 'none', why: `the apt-ostree daemon serves ${served}, not ${resolve(sysroot)}` };
    }
    const owner = String((await bus.busCall('GetNameOwner', 's', [BUS_NAME])).body[0]);
    return { kind: 'daemon', bus, owner };
  } catch (e) {
    bus.close();
    return { kind: 'none', why: `the apt-ostree daemon did not answer (${(e as Error).message})` };
  }
}

/** A D-Bus error reply as an AptOstreeError with the daemon's text. */
export async function fromDBusError(e: unknown): Promise<unknown> {
  const { DBusCallError } = await import('../dbus/bus');
  const { errorCodeOf } = await import('../dbus/contract');
  if (e instanceof DBusCallError) {
    const code = e.errorName === 'org.freedesktop.DBus.Error.AccessDenied' ? 'denied' : errorCodeOf(e.errorName);
    return new AptOstreeError(code, e.message);
  }
  return e;
}

async function viaDaemon(bus: BusConnection, owner: string, req: OperationRequest, queue: boolean): Promise<OperationResult> {
  const { variantDict, FLAG_ALLOW_INTERACTIVE_AUTHORIZATION } = await import('../dbus/bus');
  const c = await import('../dbus/contract');
  const call = c.encodeRequest(req, { queue });
  const progress = new TerminalProgress();
  // Subscribe before anything can happen: no signal is missed.
  await bus.addMatch(`type='signal',sender='${c.BUS_NAME}',path_namespace='/org/aptostree/dev/transaction'`);
  await bus.addMatch(`type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${c.BUS_NAME}'`);
  let txPath: string;
  try {
    const r = await bus.call({
      destination: c.BUS_NAME,
      path: c.OBJECT_PATH,
      interface: c.DAEMON_IFACE,
      member: call.method,
      signature: call.signature,
      body: [...call.args, variantDict(call.options)],
      flags: process.stdin.isTTY ? FLAG_ALLOW_INTERACTIVE_AUTHORIZATION : 0,
      timeout: 300000,
    });
    if (call.method === 'AutomaticUpdateTrigger') {
      // (b enabled, o transaction): not enabled means the policy in force is "none", and no transaction.
      if (r.body[0] !== true) {
        progress.finish();
        return { changed: false, summary: 'Automatic updates are disabled (AutomaticUpdatePolicy=none); nothing to do.' };
      }
      txPath = String(r.body[1]);
    } else {
      txPath = String(r.body[0]);
    }
  } catch (e) {
    throw await fromDBusError(e);
  }
  const txCall = (member: string, timeout = 25000): Promise<DBusMessage> =>
    bus.call({ destination: owner, path: txPath, interface: c.TRANSACTION_IFACE, member, timeout });
  const prop = async (name: string): Promise<string> => {
    const r = await bus.call({
      destination: owner,
      path: txPath,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: [c.TRANSACTION_IFACE, name],
    });
    return String((r.body[0] as { value: unknown }).value);
  };

  let sigints = 0;
  const onSigint = (): void => {
    sigints++;
    if (sigints === 1) {
      progress.message('Cancelling the transaction (Ctrl-C again to stop waiting)');
      txCall('Cancel').catch((e: Error) => process.stderr.write(`apt-ostree: cancel failed: ${e.message}\n`));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const finished = new Promise<void>((resolveDone, reject) => {
      bus.on('signal', (m: DBusMessage) => {
        if (m.sender === 'org.freedesktop.DBus' && m.member === 'NameOwnerChanged' && m.body[0] === c.BUS_NAME && m.body[2] !== owner) {
          reject(
            new AptOstreeError('internal', 'the apt-ostree daemon exited during the transaction', {
              hint: 'see its log: journalctl -u apt-ostreed.service; "apt-ostree status" shows what is deployed',
            }),
          );
          return;
        }
        if (m.path !== txPath || m.sender !== owner) return;
        renderSignal(progress, m);
        if (m.member === 'Finished') resolveDone();
      });
      bus.once('disconnect', () =>
        reject(new AptOstreeError('internal', 'the connection to the system bus was lost during the transaction')),
      );
    });
    finished.catch(() => undefined); // awaited below only while the transaction runs
    try {
      await txCall('Start');
    } catch (e) {
      throw await fromDBusError(e);
    }
    const state = await prop('State');
    if (state === 'queued') progress.message('Waiting for the transaction in progress to finish (--queue)');
    if (state !== 'succeeded' && state !== 'failed' && state !== 'cancelled') await finished;
    const result = JSON.parse(await prop('Result')) as import('../dbus/contract').TransactionResult;
    if (!result.success) throw new AptOstreeError(result.code ?? 'internal', result.error ?? result.summary);
    return { changed: result.changed, summary: result.summary, deployment: result.deployment, rebootRequested: result.rebootRequested };
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
  }
}

function renderSignal(p: Progress, m: DBusMessage): void {
  const b = m.body;
  switch (m.member) {
    case 'Message':
      p.message(String(b[0]));
      break;
    case 'TaskBegin':
      p.taskBegin(String(b[0]));
      break;
    case 'TaskEnd':
      p.taskEnd(String(b[0]));
      break;
    case 'PercentProgress':
      p.percent(String(b[0]), Number(b[1]));
      break;
    case 'DownloadProgress':
      p.download(Number(b[0]), Number(b[1]));
      break;
    default:
      break;
  }
}
