/**
 * Types of the three internal modules of dbus-next that bus.ts uses (its
 * transport, message and variant classes); dbus-next's own typings cover only
 * its high-level API.
 */
declare module 'dbus-next/lib/connection.js' {
  import type { EventEmitter } from 'node:events';

  export interface LowConnection extends EventEmitter {
    message(msg: unknown): void;
    end(): void;
    stream: { end(): void; destroy(): void };
  }

  function createConnection(opts: { busAddress: string }): LowConnection;
  export default createConnection;
}

declare module 'dbus-next/lib/message-type.js' {
  export class Message {
    constructor(fields: Record<string, unknown>);
    serial: number;
  }
}

declare module 'dbus-next/lib/variant.js' {
  export class Variant {
    constructor(signature: string, value: unknown);
    signature: string;
    value: unknown;
  }
}
