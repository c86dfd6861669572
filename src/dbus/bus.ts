/**
 * A small D-Bus connection on dbus-next's transport, authentication and
 * marshalling (its lib/connection.js, lib/message-type.js, lib/variant.js),
 * without its high-level MessageBus: that one loads an XML library (about
 * 15 ms of start-up the client's `status` cannot afford) and its service API
 * hides the sender of a method call, which the daemon needs for polkit.
 *
 * Unix sockets only go through node's `net` here: dbus-next's optional
 * `usocket` (fd passing) does not build on Node 20 and is not needed.
 */
import { EventEmitter } from 'node:events';
import createConnection, { type LowConnection } from 'dbus-next/lib/connection.js';
import { Message } from 'dbus-next/lib/message-type.js';
import { Variant } from 'dbus-next/lib/variant.js';
import { AptOstreeError } from '../engine/errors';

export const METHOD_CALL = 1;
export const METHOD_RETURN = 2;
export const ERROR = 3;
export const SIGNAL = 4;
export const FLAG_NO_REPLY_EXPECTED = 1;
export const FLAG_NO_AUTO_START = 2;
export const FLAG_ALLOW_INTERACTIVE_AUTHORIZATION = 4;

/** A message as dbus-next decodes it. Variants are { signature, value }. */
export interface DBusMessage {
  type: number;
  serial: number;
  flags: number;
  sender?: string;
  destination?: string;
  path?: string;
  interface?: string;
  member?: string;
  signature: string;
  body: unknown[];
  errorName?: string;
  replySerial?: number;
}

/** An error reply of a call (name and text as the peer sent them). */
export class DBusCallError extends Error {
  constructor(
    readonly errorName: string,
    text: string,
    /** The second string of the reply's body, when there is one (apt-ostreed: the error's JSON). */
    readonly data?: string,
  ) {
    super(text);
    this.name = 'DBusCallError';
  }
}

/** A value of type `v` to send. */
export function variant(signature: string, value: unknown): unknown {
  return new Variant(signature, value);
}

/** Options as a{sv} to send, from { key: { signature, value } }. */
export function variantDict(d: Record<string, { signature: string; value: unknown }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) out[k] = variant(v.signature, v.value);
  return out;
}

export function systemBusAddress(): string {
  const env = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  return env !== undefined && env !== '' ? env : 'unix:path=/run/dbus/system_bus_socket';
}

/** The socket path of a unix:path= address (for a cheap "is a bus there" check), or undefined. */
export function socketPathOf(address: string): string | undefined {
  for (const a of address.split(';')) {
    const m = /^unix:(?:.*,)?path=([^,]+)/.exec(a);
    if (m?.[1]) return decodeURIComponent(m[1]);
  }
  return undefined;
}

export interface CallOptions {
  destination?: string;
  path: string;
  interface?: string;
  member: string;
  signature?: string;
  body?: unknown[];
  flags?: number;
  /** Milliseconds; default 25 s like libdbus. 0: none. */
  timeout?: number;
}

interface Pending {
  resolve: (m: DBusMessage) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * One connection to a bus. Events: 'signal' (msg), 'methodCall' (msg),
 * 'disconnect' (error?).
 */
export class BusConnection extends EventEmitter {
  uniqueName = '';
  private serial = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(private readonly conn: LowConnection) {
    super();
    conn.on('message', (m: DBusMessage) => this.dispatch(m));
    const down = (e?: Error): void => {
      if (this.closed) return;
      this.closed = true;
      for (const p of this.pending.values()) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new AptOstreeError('internal', `the D-Bus connection was closed${e ? `: ${e.message}` : ''}`));
      }
      this.pending.clear();
      this.emit('disconnect', e);
    };
    conn.on('error', (e: Error) => down(e));
    conn.on('end', () => down());
  }

  /** Connect, authenticate, and say Hello. */
  static connect(address = systemBusAddress(), timeoutMs = 10000): Promise<BusConnection> {
    return new Promise((resolve, reject) => {
      let low: LowConnection;
      try {
        low = createConnection({ busAddress: address });
      } catch (e) {
        reject(new AptOstreeError('internal', `cannot connect to the D-Bus bus at ${address}: ${(e as Error).message}`));
        return;
      }
      const bus = new BusConnection(low);
      const timer = setTimeout(() => {
        bus.close();
        reject(new AptOstreeError('internal', `the D-Bus bus at ${address} did not answer`));
      }, timeoutMs);
      const fail = (e?: Error): void => {
        clearTimeout(timer);
        reject(new AptOstreeError('internal', `cannot connect to the D-Bus bus at ${address}${e ? `: ${e.message}` : ''}`));
      };
      bus.once('disconnect', fail);
      bus
        .call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello' })
        .then((r) => {
          clearTimeout(timer);
          bus.removeListener('disconnect', fail);
          bus.uniqueName = String(r.body[0]);
          resolve(bus);
        })
        .catch((e: Error) => fail(e));
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private dispatch(m: DBusMessage): void {
    if (m.type === METHOD_RETURN || m.type === ERROR) {
      const p = m.replySerial === undefined ? undefined : this.pending.get(m.replySerial);
      if (!p) return;
      this.pending.delete(m.replySerial!);
      if (p.timer) clearTimeout(p.timer);
      if (m.type === ERROR)
        p.reject(
          new DBusCallError(
            m.errorName ?? 'org.freedesktop.DBus.Error.Failed',
            typeof m.body[0] === 'string' ? m.body[0] : '',
            typeof m.body[1] === 'string' ? m.body[1] : undefined,
          ),
        );
      else p.resolve(m);
    } else if (m.type === SIGNAL) {
      this.emit('signal', m);
    } else if (m.type === METHOD_CALL) {
      this.emit('methodCall', m);
    }
  }

  private write(fields: Record<string, unknown>): number {
    if (this.closed) throw new AptOstreeError('internal', 'the D-Bus connection is closed');
    const msg = new Message(fields);
    const serial = this.serial++;
    msg.serial = serial;
    this.conn.message(msg);
    return serial;
  }

  /** Call a method; resolves with the reply, rejects with DBusCallError on an error reply. */
  call(o: CallOptions): Promise<DBusMessage> {
    return new Promise((resolve, reject) => {
      let serial: number;
      try {
        serial = this.write({
          type: METHOD_CALL,
          destination: o.destination,
          path: o.path,
          interface: o.interface,
          member: o.member,
          signature: o.signature ?? '',
          body: o.body ?? [],
          flags: o.flags ?? 0,
        });
      } catch (e) {
        reject(e as Error);
        return;
      }
      const p: Pending = { resolve, reject };
      const timeout = o.timeout ?? 25000;
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(serial);
          reject(
            new DBusCallError(
              'org.freedesktop.DBus.Error.NoReply',
              `${o.member} on ${o.destination ?? '?'} did not answer within ${timeout / 1000} s`,
            ),
          );
        }, timeout);
      }
      this.pending.set(serial, p);
    });
  }

  reply(to: DBusMessage, signature = '', body: unknown[] = []): void {
    if (to.flags & FLAG_NO_REPLY_EXPECTED) return;
    this.write({ type: METHOD_RETURN, replySerial: to.serial, destination: to.sender, signature, body });
  }

  replyError(to: DBusMessage, errorName: string, text: string, data?: string): void {
    if (to.flags & FLAG_NO_REPLY_EXPECTED) return;
    const [signature, body] = data === undefined ? ['s', [text]] : ['ss', [text, data]];
    this.write({ type: ERROR, replySerial: to.serial, destination: to.sender, errorName, signature, body });
  }

  signal(path: string, iface: string, member: string, signature = '', body: unknown[] = [], destination?: string): void {
    if (this.closed) return;
    this.write({ type: SIGNAL, path, interface: iface, member, signature, body, destination });
  }

  /** Call a method of the bus itself (org.freedesktop.DBus). */
  busCall(member: string, signature = '', body: unknown[] = []): Promise<DBusMessage> {
    return this.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member,
      signature,
      body,
    });
  }

  addMatch(rule: string): Promise<DBusMessage> {
    return this.busCall('AddMatch', 's', [rule]);
  }

  /** RequestName with DO_NOT_QUEUE; true when this connection is now the primary owner. */
  async requestName(name: string): Promise<boolean> {
    const r = await this.busCall('RequestName', 'su', [name, 4]);
    return r.body[0] === 1 || r.body[0] === 4;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.conn.stream.end();
      this.conn.stream.destroy();
    } catch {
      /* already down */
    }
    this.closed = true;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new AptOstreeError('internal', 'the D-Bus connection was closed'));
    }
    this.pending.clear();
  }
}
