/**
 * A minimal D-Bus client for the read-only queries of the CLI (`status`):
 * method calls on one short connection to a bus, nothing else (no signals,
 * no exported objects, no fd passing). It stands alone on node:net, so the
 * status path loads neither dbus-next nor the rest of src/dbus: the whole
 * start-up of `apt-ostree status` is what a user waits for.
 *
 * What it speaks of the D-Bus specification: unix socket addresses (path=,
 * abstract=; the first usable one of a ';' list), SASL EXTERNAL with the
 * process's uid, Hello, METHOD_CALL out (little-endian, arguments of the
 * basic types s o g b y n q i u), METHOD_RETURN and ERROR in (either byte
 * order, any complete signature: basic types, arrays, dicts, structs and
 * variants), reply matching by serial, per-call timeouts.
 */
import { connect, type Socket } from 'node:net';

const METHOD_CALL = 1;
const METHOD_RETURN = 2;
const ERROR = 3;
/** The bus must not start a service to deliver the call (a query never starts the daemon). */
export const FLAG_NO_AUTO_START = 2;

const BUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
/** The specification's limit of a message. */
const MAX_MESSAGE = 128 * 1024 * 1024;

/** A decoded value: string, number, boolean, bigint (x, t), array, Record (a{..}), Variant. */
export type Value = string | number | boolean | bigint | Value[] | { [key: string]: Value } | Variant;

export interface Variant {
  signature: string;
  value: Value;
}

/** An error reply (name and text as the peer sent them), or NoReply when a call timed out. */
export class MiniCallError extends Error {
  constructor(
    readonly errorName: string,
    text: string,
  ) {
    super(text);
    this.name = 'MiniCallError';
  }
}

/** The connection could not be made, authenticated, or was lost. */
export class MiniBusError extends Error {
  constructor(text: string) {
    super(text);
    this.name = 'MiniBusError';
  }
}

export interface MiniCall {
  destination: string;
  path: string;
  interface: string;
  member: string;
  /** Of the arguments; each character one basic type (s o g b y n q i u). */
  signature?: string;
  body?: (string | number | boolean)[];
  flags?: number;
  /** Milliseconds; 0: none. Default 25 s, as libdbus. */
  timeout?: number;
}

export interface MiniReply {
  signature: string;
  body: Value[];
}

/** The socket a D-Bus address names: the first unix path= or abstract= entry. */
export function socketOfAddress(address: string): string | undefined {
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon < 0 || entry.slice(0, colon) !== 'unix') continue;
    const kv = new Map<string, string>();
    for (const part of entry.slice(colon + 1).split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0) kv.set(part.slice(0, eq), unescapeValue(part.slice(eq + 1)));
    }
    const path = kv.get('path');
    if (path) return path;
    const abs = kv.get('abstract');
    if (abs) return `\0${abs}`;
  }
  return undefined;
}

/** Address values escape bytes as %XX. */
function unescapeValue(v: string): string {
  return v.includes('%')
    ? Buffer.from(
        v.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      ).toString('utf8')
    : v;
}

export function systemBusAddress(): string {
  const env = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  return env !== undefined && env !== '' ? env : 'unix:path=/run/dbus/system_bus_socket';
}

// ---------------------------------------------------------------------------
// Marshalling (little-endian out)

class Writer {
  private buf = Buffer.alloc(256);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  align(n: number): void {
    const pad = (n - (this.len % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.len, this.len + pad);
    this.len += pad;
  }
  byte(v: number): void {
    this.room(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }
  u16(v: number, signed = false): void {
    this.align(2);
    this.room(2);
    if (signed) this.buf.writeInt16LE(v, this.len);
    else this.buf.writeUInt16LE(v, this.len);
    this.len += 2;
  }
  u32(v: number, signed = false): void {
    this.align(4);
    this.room(4);
    if (signed) this.buf.writeInt32LE(v, this.len);
    else this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  putU32At(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u32(b.length);
    this.raw(b);
    this.byte(0);
  }
  signature(s: string): void {
    const b = Buffer.from(s, 'ascii');
    if (b.length > 255) throw new MiniBusError(`signature too long: ${s}`);
    this.byte(b.length);
    this.raw(b);
    this.byte(0);
  }
  raw(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }
  basic(type: string, v: string | number | boolean): void {
    switch (type) {
      case 's':
      case 'o':
        this.string(String(v));
        return;
      case 'g':
        this.signature(String(v));
        return;
      case 'b':
        this.u32(v === true ? 1 : 0);
        return;
      case 'y':
        this.byte(Number(v));
        return;
      case 'n':
        this.u16(Number(v), true);
        return;
      case 'q':
        this.u16(Number(v));
        return;
      case 'i':
        this.u32(Number(v), true);
        return;
      case 'u':
        this.u32(Number(v));
        return;
      default:
        throw new MiniBusError(`cannot send an argument of type ${type}`);
    }
  }
  done(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

const FIELD = { path: 1, interface: 2, member: 3, errorName: 4, replySerial: 5, destination: 6, sender: 7, signature: 8, unixFds: 9 };

/** A METHOD_CALL message. */
export function encodeCall(serial: number, c: MiniCall): Buffer {
  const sig = c.signature ?? '';
  const args = c.body ?? [];
  if (sig.length !== args.length) throw new MiniBusError(`signature "${sig}" does not match ${args.length} argument(s)`);
  const body = new Writer();
  for (let i = 0; i < sig.length; i++) body.basic(sig[i]!, args[i]!);
  const b = body.done();

  const w = new Writer();
  w.byte(0x6c); // 'l': little-endian
  w.byte(METHOD_CALL);
  w.byte(c.flags ?? 0);
  w.byte(1);
  w.u32(b.length);
  w.u32(serial);
  const lenAt = w.len;
  w.u32(0);
  const start = w.len;
  const field = (code: number, type: string, v: string): void => {
    w.align(8);
    w.byte(code);
    w.signature(type);
    w.basic(type, v);
  };
  field(FIELD.path, 'o', c.path);
  field(FIELD.interface, 's', c.interface);
  field(FIELD.member, 's', c.member);
  field(FIELD.destination, 's', c.destination);
  if (sig !== '') field(FIELD.signature, 'g', sig);
  w.putU32At(lenAt, w.len - start);
  w.align(8);
  w.raw(b);
  return w.done();
}

// ---------------------------------------------------------------------------
// Unmarshalling (either byte order in)

class Reader {
  constructor(
    private readonly buf: Buffer,
    private readonly le: boolean,
    public pos: number,
    /** Alignment is relative to the message's start. */
    private readonly base: number,
    private readonly end: number,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) throw new MiniBusError('malformed D-Bus message: truncated value');
  }
  align(n: number): void {
    const rel = this.pos - this.base;
    this.pos += (n - (rel % n)) % n;
    if (this.pos > this.end) throw new MiniBusError('malformed D-Bus message: truncated padding');
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.align(4);
    this.need(4);
    const v = this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  string(): string {
    const n = this.u32();
    this.need(n + 1);
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n + 1;
    return s;
  }
  signature(): string {
    const n = this.byte();
    this.need(n + 1);
    const s = this.buf.toString('ascii', this.pos, this.pos + n);
    this.pos += n + 1;
    return s;
  }

  /** One value of the complete type starting at sig[i]; returns it and the index after its type. */
  value(sig: string, i: number): [Value, number] {
    const t = sig[i];
    switch (t) {
      case 'y':
        return [this.byte(), i + 1];
      case 'b':
        return [this.u32() !== 0, i + 1];
      case 'n':
      case 'q': {
        this.align(2);
        this.need(2);
        const v =
          t === 'n'
            ? this.le
              ? this.buf.readInt16LE(this.pos)
              : this.buf.readInt16BE(this.pos)
            : this.le
              ? this.buf.readUInt16LE(this.pos)
              : this.buf.readUInt16BE(this.pos);
        this.pos += 2;
        return [v, i + 1];
      }
      case 'i': {
        this.align(4);
        this.need(4);
        const v = this.le ? this.buf.readInt32LE(this.pos) : this.buf.readInt32BE(this.pos);
        this.pos += 4;
        return [v, i + 1];
      }
      case 'u':
      case 'h':
        return [this.u32(), i + 1];
      case 'x':
      case 't':
      case 'd': {
        this.align(8);
        this.need(8);
        const p = this.pos;
        this.pos += 8;
        if (t === 'd') return [this.le ? this.buf.readDoubleLE(p) : this.buf.readDoubleBE(p), i + 1];
        if (t === 'x') return [this.le ? this.buf.readBigInt64LE(p) : this.buf.readBigInt64BE(p), i + 1];
        return [this.le ? this.buf.readBigUInt64LE(p) : this.buf.readBigUInt64BE(p), i + 1];
      }
      case 's':
      case 'o':
        return [this.string(), i + 1];
      case 'g':
        return [this.signature(), i + 1];
      case 'v': {
        const vs = this.signature();
        const [v, next] = this.value(vs, 0);
        if (next !== vs.length) throw new MiniBusError(`malformed D-Bus message: variant signature "${vs}" is not one type`);
        return [{ signature: vs, value: v }, i + 1];
      }
      case '(': {
        this.align(8);
        const out: Value[] = [];
        let j = i + 1;
        while (sig[j] !== ')') {
          if (j >= sig.length) throw new MiniBusError(`malformed D-Bus signature "${sig}"`);
          const [v, next] = this.value(sig, j);
          out.push(v);
          j = next;
        }
        return [out, j + 1];
      }
      case 'a': {
        const n = this.u32();
        const elem = i + 1;
        const afterElem = skipType(sig, elem);
        this.align(alignOf(sig[elem]!));
        const stop = this.pos + n;
        if (stop > this.end) throw new MiniBusError('malformed D-Bus message: array beyond the message');
        if (sig[elem] === '{') {
          const out: Record<string, Value> = {};
          while (this.pos < stop) {
            this.align(8);
            const [k, kNext] = this.value(sig, elem + 1);
            const [v] = this.value(sig, kNext);
            out[String(k)] = v;
          }
          return [out, afterElem];
        }
        const out: Value[] = [];
        while (this.pos < stop) out.push(this.value(sig, elem)[0]);
        return [out, afterElem];
      }
      default:
        throw new MiniBusError(`malformed D-Bus signature "${sig}" (type ${String(t)})`);
    }
  }
}

function alignOf(t: string): number {
  switch (t) {
    case 'y':
    case 'g':
    case 'v':
      return 1;
    case 'n':
    case 'q':
      return 2;
    case 'x':
    case 't':
    case 'd':
    case '(':
    case '{':
      return 8;
    default:
      return 4;
  }
}

/** The index after the complete type at sig[i]. */
function skipType(sig: string, i: number): number {
  const t = sig[i];
  if (t === 'a') return skipType(sig, i + 1);
  if (t === '(' || t === '{') {
    const close = t === '(' ? ')' : '}';
    let j = i + 1;
    while (sig[j] !== close) {
      if (j >= sig.length) throw new MiniBusError(`malformed D-Bus signature "${sig}"`);
      j = skipType(sig, j);
    }
    return j + 1;
  }
  if (t === undefined) throw new MiniBusError(`malformed D-Bus signature "${sig}"`);
  return i + 1;
}

interface Incoming {
  type: number;
  replySerial?: number;
  errorName?: string;
  signature: string;
  body: Value[];
}

/** The length of the message at the head of `buf`, or undefined while its fixed part is incomplete. */
function messageLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const le = buf[0] === 0x6c;
  if (!le && buf[0] !== 0x42) throw new MiniBusError('malformed D-Bus message: bad byte order mark');
  const bodyLen = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLen = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const headerEnd = 16 + fieldsLen + ((8 - (fieldsLen % 8)) % 8);
  const total = headerEnd + bodyLen;
  if (total > MAX_MESSAGE) throw new MiniBusError(`D-Bus message too large (${total} bytes)`);
  return total;
}

export function decodeMessage(buf: Buffer): Incoming {
  const le = buf[0] === 0x6c;
  const fieldsLen = le ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  const h = new Reader(buf, le, 12, 0, 16 + fieldsLen);
  const fields = h.value('a(yv)', 0)[0] as Value[][];
  const out: Incoming = { type: buf[1]!, signature: '', body: [] };
  for (const [code, v] of fields) {
    const value = (v as Variant).value;
    if (code === FIELD.replySerial) out.replySerial = Number(value);
    else if (code === FIELD.errorName) out.errorName = String(value);
    else if (code === FIELD.signature) out.signature = String(value);
  }
  const r = new Reader(buf, le, 16 + fieldsLen + ((8 - (fieldsLen % 8)) % 8), 0, buf.length);
  for (let i = 0; i < out.signature.length;) {
    const [v, next] = r.value(out.signature, i);
    out.body.push(v);
    i = next;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The connection

interface Pending {
  resolve: (r: MiniReply) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class MiniBus {
  uniqueName = '';
  /** Settles when the bus answered Hello (rejects when the connection failed first). */
  readonly ready: Promise<void>;
  private serial = 1;
  private readonly pending = new Map<number, Pending>();
  private buf: Buffer = Buffer.alloc(0);
  private authed = false;
  private failure: Error | undefined;
  private readonly sock: Socket;

  /**
   * Open a connection: authentication (EXTERNAL, this process's uid), BEGIN
   * and Hello are written at once, as sd-bus does, and calls may follow at
   * once too: the bus answers them in turn, so a query costs one round trip
   * however many calls it makes. A refused authentication fails them all.
   * `timeoutMs` bounds the wait for Hello's answer.
   */
  static open(address = systemBusAddress(), timeoutMs = 10000): MiniBus {
    const path = socketOfAddress(address);
    if (path === undefined) throw new MiniBusError(`no unix socket in the D-Bus address ${address}`);
    return new MiniBus(address, path, timeoutMs);
  }

  /** open(), and the answer to Hello. */
  static async connect(address = systemBusAddress(), timeoutMs = 10000): Promise<MiniBus> {
    const bus = MiniBus.open(address, timeoutMs);
    await bus.ready;
    return bus;
  }

  private constructor(address: string, path: string, timeoutMs: number) {
    const sock = connect({ path });
    this.sock = sock;
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // A bus that refuses us closes the connection: our pipelined BEGIN and Hello may then meet the closed
      // socket before its REJECTED line is read.
      const refused = !this.authed && (e.code === 'EPIPE' || e.code === 'ECONNRESET');
      this.down(
        new MiniBusError(
          refused
            ? `the D-Bus bus refused authentication (it closed the connection: ${e.code})`
            : `cannot connect to the D-Bus bus at ${address}: ${e.message}`,
        ),
      );
    });
    sock.on('close', () => this.down(new MiniBusError(`the D-Bus bus at ${address} closed the connection`)));
    sock.on('data', (d: Buffer) => this.onData(d));
    const uid = String(process.getuid?.() ?? 0);
    sock.write(`\0AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\nBEGIN\r\n`, 'ascii');
    const hello = this.call({ ...BUS, member: 'Hello', timeout: timeoutMs });
    this.ready = hello.then(
      (r) => {
        this.uniqueName = String(r.body[0]);
      },
      (e: Error) => {
        const err =
          e instanceof MiniCallError && e.errorName === 'org.freedesktop.DBus.Error.NoReply'
            ? new MiniBusError(`the D-Bus bus at ${address} did not answer within ${timeoutMs / 1000} s`)
            : e;
        this.down(err);
        throw err;
      },
    );
    // Whoever does not wait for `ready` learns of a failure from its own calls.
    this.ready.catch(() => undefined);
  }

  private down(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.sock.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    try {
      if (!this.authed) {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) {
          if (this.buf.length > 16384) throw new MiniBusError('the D-Bus bus sent an overlong authentication line');
          return;
        }
        const line = this.buf.toString('ascii', 0, nl);
        this.buf = this.buf.subarray(nl + 2);
        if (!line.startsWith('OK ')) throw new MiniBusError(`the D-Bus bus refused authentication (${line})`);
        this.authed = true;
      }
      for (;;) {
        const n = messageLength(this.buf);
        if (n === undefined || this.buf.length < n) return;
        const m = decodeMessage(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.dispatch(m);
      }
    } catch (e) {
      this.down(e instanceof MiniBusError ? e : new MiniBusError(`malformed D-Bus message: ${(e as Error).message}`));
    }
  }

  private dispatch(m: Incoming): void {
    if ((m.type !== METHOD_RETURN && m.type !== ERROR) || m.replySerial === undefined) return;
    const p = this.pending.get(m.replySerial);
    if (!p) return;
    this.pending.delete(m.replySerial);
    if (p.timer) clearTimeout(p.timer);
    if (m.type === ERROR)
      p.reject(new MiniCallError(m.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof m.body[0] === 'string' ? m.body[0] : ''));
    else p.resolve({ signature: m.signature, body: m.body });
  }

  /** Call a method; resolves with the reply, rejects with MiniCallError on an error reply. */
  call(c: MiniCall): Promise<MiniReply> {
    if (this.failure) return Promise.reject(this.failure);
    const serial = this.serial++;
    let msg: Buffer;
    try {
      msg = encodeCall(serial, c);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject };
      const timeout = c.timeout ?? 25000;
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(serial);
          reject(
            new MiniCallError(
              'org.freedesktop.DBus.Error.NoReply',
              `${c.member} on ${c.destination} did not answer within ${timeout / 1000} s`,
            ),
          );
        }, timeout);
      }
      this.pending.set(serial, p);
      this.sock.write(msg);
    });
  }

  /** Call a method of the bus itself (org.freedesktop.DBus). */
  busCall(member: string, signature = '', body: (string | number | boolean)[] = []): Promise<MiniReply> {
    return this.call({ ...BUS, member, signature, body });
  }

  close(): void {
    this.down(new MiniBusError('the D-Bus connection was closed'));
  }
}
