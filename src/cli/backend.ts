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
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AptOstreeError } from '../engine/errors';
import { rebootDecision, runOperation } from '../engine/operations';
import type { OperationRequest, OperationResult } from '../engine/operations/types';
import type { Progress } from '../engine/progress';
import type { GlobalOptions } from './globals';
import { TerminalProgress } from './progress';
import {
  BusConnection,
  DBusCallError,
  FLAG_ALLOW_INTERACTIVE_AUTHORIZATION,
  socketPathOf,
  systemBusAddress,
  variantDict,
  type DBusMessage,
} from '../dbus/bus';
import {
  BUS_NAME,
  DAEMON_IFACE,
  decodeCall,
  encodeRequest,
  errorFromReply,
  errorOfResult,
  OBJECT_PATH,
  TRANSACTION_IFACE,
  type TransactionResult,
} from '../dbus/contract';

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

/**
 * The in-process runner: the request goes through the contract's encoding
 * and validated decoding, as it would to the daemon (same checks, same
 * errors), then the engine runs it; the reboot asked for happens here.
 */
async function inProcess(g: GlobalOptions, req: OperationRequest): Promise<OperationResult> {
  const call = encodeRequest(req);
  const { request } = decodeCall(call.method, [...call.args, call.options]);
  const progress = new TerminalProgress();
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  let r: OperationResult;
  try {
    r = await runOperation({ sysroot: g.sysroot, progress, signal: ac.signal }, request);
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
  }
  const reboot = rebootDecision(g.sysroot, r);
  reboot?.reboot?.();
  return reboot ? { ...r, rebootNote: reboot.note } : r;
}

/** A connection to the system bus, or why there is none. */
async function openSystemBus(timeoutMs: number): Promise<BusConnection | string> {
  const address = systemBusAddress();
  const sock = socketPathOf(address);
  if (sock !== undefined && !existsSync(sock)) return `there is no system bus (${sock})`;
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

/** A D-Bus error reply as the AptOstreeError the daemon sent (code, message, hint, details). */
export function fromDBusError(e: unknown): unknown {
  return e instanceof DBusCallError ? errorFromReply(e.errorName, e.message, e.data) : e;
}

async function viaDaemon(bus: BusConnection, owner: string, req: OperationRequest, queue: boolean): Promise<OperationResult> {
  const call = encodeRequest(req, { queue });
  const progress = new TerminalProgress();
  // Subscribe before anything can happen: no signal is missed.
  await bus.addMatch(`type='signal',sender='${BUS_NAME}',path_namespace='/org/aptostree/dev/transaction'`);
  await bus.addMatch(`type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='${BUS_NAME}'`);
  let txPath: string;
  try {
    const r = await bus.call({
      destination: BUS_NAME,
      path: OBJECT_PATH,
      interface: DAEMON_IFACE,
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
    throw fromDBusError(e);
  }
  const txCall = (member: string, timeout = 25000): Promise<DBusMessage> =>
    bus.call({ destination: owner, path: txPath, interface: TRANSACTION_IFACE, member, timeout });
  const prop = async (name: string): Promise<string> => {
    const r = await bus.call({
      destination: owner,
      path: txPath,
      interface: 'org.freedesktop.DBus.Properties',
      member: 'Get',
      signature: 'ss',
      body: [TRANSACTION_IFACE, name],
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
        if (m.sender === 'org.freedesktop.DBus' && m.member === 'NameOwnerChanged' && m.body[0] === BUS_NAME && m.body[2] !== owner) {
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
      throw fromDBusError(e);
    }
    const state = await prop('State');
    if (state === 'queued') progress.message('Waiting for the transaction in progress to finish (--queue)');
    if (state !== 'succeeded' && state !== 'failed' && state !== 'cancelled') await finished;
    const result = JSON.parse(await prop('Result')) as TransactionResult;
    if (!result.success) throw errorOfResult(result);
    return {
      changed: result.changed,
      summary: result.summary,
      deployment: result.deployment,
      rebootRequested: result.rebootRequested,
      rebootNote: result.rebootNote,
    };
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
