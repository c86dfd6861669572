/**
 * Exported objects on a BusConnection: method dispatch with the caller's
 * unique name, introspection generated from the contract's interface specs,
 * org.freedesktop.DBus.Properties (read-only, with PropertiesChanged) and
 * org.freedesktop.DBus.Peer. Every failure becomes an error reply; nothing a
 * caller sends can throw out of here.
 */
import { readFileSync } from 'node:fs';
import { AptOstreeError, isAptOstreeError } from '../engine/errors';
import { log } from '../engine/log';
import { DBusCallError, variant, type BusConnection, type DBusMessage } from './bus';
import { ACCESS_DENIED, errorBody, errorNameOf, INVALID_ARGS, interfaceXml, UNKNOWN_METHOD, type InterfaceSpec } from './contract';

const PROPS = 'org.freedesktop.DBus.Properties';
const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
const PEER = 'org.freedesktop.DBus.Peer';

/** What a method handler returns: the reply's signature and body. */
export interface Reply {
  signature: string;
  body: unknown[];
}

export type MethodHandler = (msg: DBusMessage & { sender: string }) => Promise<Reply> | Reply;

export interface ExportedInterface {
  spec: InterfaceSpec;
  methods: Record<string, MethodHandler>;
  /** Current value of a property (of the type the spec declares). */
  property(name: string): unknown;
}

/** An error to send back as it is (name and text). */
export class ReplyError extends Error {
  constructor(
    readonly errorName: string,
    text: string,
  ) {
    super(text);
  }
}

export const accessDenied = (text: string): ReplyError => new ReplyError(ACCESS_DENIED, text);

const STD_XML = `  <interface name="${INTROSPECTABLE}">
    <method name="Introspect"><arg name="xml_data" type="s" direction="out"/></method>
  </interface>
  <interface name="${PEER}">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>
  <interface name="${PROPS}">
    <method name="Get">
      <arg name="interface_name" type="s" direction="in"/><arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/>
    </method>
    <method name="GetAll">
      <arg name="interface_name" type="s" direction="in"/><arg name="properties" type="a{sv}" direction="out"/>
    </method>
    <method name="Set">
      <arg name="interface_name" type="s" direction="in"/><arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg name="interface_name" type="s"/><arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>`;

export class ObjectServer {
  private readonly objects = new Map<string, Map<string, ExportedInterface>>();

  constructor(private readonly bus: BusConnection) {
    bus.on('methodCall', (m: DBusMessage) => {
      this.handle(m).catch((e: unknown) => log.error(`D-Bus dispatch failed: ${(e as Error).message}`));
    });
  }

  export(path: string, ifaces: ExportedInterface[]): void {
    this.objects.set(path, new Map(ifaces.map((i) => [i.spec.name, i])));
  }

  unexport(path: string): void {
    this.objects.delete(path);
  }

  has(path: string): boolean {
    return this.objects.has(path);
  }

  /**
   * Send PropertiesChanged with the current values of `names`: broadcast, or
   * one unicast copy to each of `destinations` when given.
   */
  propertiesChanged(path: string, iface: string, names: string[], destinations?: Iterable<string>): void {
    const i = this.objects.get(path)?.get(iface);
    if (!i) return;
    const changed: Record<string, unknown> = {};
    for (const n of names) changed[n] = this.propVariant(i, n);
    for (const dest of destinations ?? [undefined]) {
      try {
        this.bus.signal(path, PROPS, 'PropertiesChanged', 'sa{sv}as', [iface, changed, []], dest);
      } catch (e) {
        log.debug(`PropertiesChanged not sent: ${(e as Error).message}`);
      }
    }
  }

  private propVariant(i: ExportedInterface, name: string): unknown {
    const p = i.spec.properties.find((x) => x.name === name);
    if (!p) throw new ReplyError(INVALID_ARGS, `no property "${name}" on ${i.spec.name}`);
    return variant(p.type, i.property(name));
  }

  private async handle(m: DBusMessage): Promise<void> {
    try {
      const r = await this.route(m);
      this.bus.reply(m, r.signature, r.body);
    } catch (e) {
      const [name, text, data] = errorReply(e);
      if (name === `org.aptostree.dev.Error.Failed`) log.error(`${m.interface ?? ''}.${m.member ?? ''} from ${m.sender ?? '?'}: ${text}`);
      else log.info(`${m.interface ?? ''}.${m.member ?? ''} from ${m.sender ?? '?'} refused: ${text}`);
      try {
        this.bus.replyError(m, name, text, data);
      } catch (e2) {
        log.debug(`reply not sent: ${(e2 as Error).message}`);
      }
    }
  }

  private async route(m: DBusMessage): Promise<Reply> {
    const path = m.path ?? '/';
    const member = m.member ?? '';
    const sig = m.signature ?? '';
    if (m.interface === INTROSPECTABLE || (m.interface === undefined && member === 'Introspect')) {
      if (member !== 'Introspect' || sig !== '') throw new ReplyError(UNKNOWN_METHOD, `no method ${member}(${sig}) on ${INTROSPECTABLE}`);
      return { signature: 's', body: [this.introspect(path)] };
    }
    if (m.interface === PEER) {
      if (member === 'Ping' && sig === '') return { signature: '', body: [] };
      if (member === 'GetMachineId' && sig === '') {
        let id = '';
        for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
          try {
            id = readFileSync(f, 'utf8').trim();
            break;
          } catch {
            /* next */
          }
        }
        return { signature: 's', body: [id] };
      }
      throw new ReplyError(UNKNOWN_METHOD, `no method ${member}(${sig}) on ${PEER}`);
    }
    const obj = this.objects.get(path);
    if (!obj) throw new ReplyError('org.freedesktop.DBus.Error.UnknownObject', `no object at ${path}`);
    if (m.interface === PROPS) return this.properties(obj, member, sig, m.body);
    let iface: ExportedInterface | undefined;
    if (m.interface !== undefined) iface = obj.get(m.interface);
    else iface = [...obj.values()].find((i) => i.methods[member] !== undefined);
    if (!iface) throw new ReplyError('org.freedesktop.DBus.Error.UnknownInterface', `no interface ${m.interface ?? '(none)'} at ${path}`);
    const spec = iface.spec.methods.find((x) => x.name === member);
    const handler = iface.methods[member];
    if (!spec || !handler) throw new ReplyError(UNKNOWN_METHOD, `no method ${member} on ${iface.spec.name}`);
    const want = spec.in.map((x) => x.type).join('');
    if (sig !== want) throw new ReplyError(INVALID_ARGS, `${iface.spec.name}.${member} takes (${want}), not (${sig})`);
    if (m.sender === undefined) throw new ReplyError(ACCESS_DENIED, 'a call without a sender is not accepted');
    return handler(m as DBusMessage & { sender: string });
  }

  private properties(obj: Map<string, ExportedInterface>, member: string, sig: string, body: unknown[]): Reply {
    if (member === 'Get' && sig === 'ss') {
      const i = obj.get(String(body[0]));
      if (!i) throw new ReplyError(INVALID_ARGS, `no interface ${String(body[0])} here`);
      return { signature: 'v', body: [this.propVariant(i, String(body[1]))] };
    }
    if (member === 'GetAll' && sig === 's') {
      const i = obj.get(String(body[0]));
      const out: Record<string, unknown> = {};
      if (i) for (const p of i.spec.properties) out[p.name] = this.propVariant(i, p.name);
      return { signature: 'a{sv}', body: [out] };
    }
    if (member === 'Set' && sig === 'ssv')
      throw new ReplyError('org.freedesktop.DBus.Error.PropertyReadOnly', `property ${String(body[1])} is read-only`);
    throw new ReplyError(UNKNOWN_METHOD, `no method ${member}(${sig}) on ${PROPS}`);
  }

  introspect(path: string): string {
    const lines = [
      '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" ' +
        '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
      `<node name="${path}">`,
    ];
    const obj = this.objects.get(path);
    if (obj) {
      lines.push(STD_XML);
      for (const i of obj.values()) lines.push(interfaceXml(i.spec));
    }
    const prefix = path === '/' ? '/' : `${path}/`;
    const children = new Set<string>();
    for (const p of this.objects.keys()) if (p.startsWith(prefix) && p !== path) children.add(p.slice(prefix.length).split('/')[0]!);
    for (const c of [...children].sort()) lines.push(`  <node name="${c}"/>`);
    lines.push('</node>');
    return lines.join('\n');
  }
}

/** The D-Bus error name, text and (for an engine error) its JSON of code, hint and details, of anything thrown by a handler. */
export function errorReply(e: unknown): [string, string, string?] {
  if (e instanceof ReplyError) return [e.errorName, e.message];
  if (e instanceof DBusCallError) return [e.errorName, e.message];
  if (isAptOstreeError(e)) return [errorNameOf(e.code), ...errorBody(e)];
  const err = e instanceof Error ? e : new AptOstreeError('internal', String(e));
  return [errorNameOf('internal'), `internal error: ${err.message}`];
}
