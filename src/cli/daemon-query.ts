/**
 * Read-only queries of a running apt-ostreed (status), on one short
 * connection of the minimal D-Bus client (src/dbus/mini-client.ts): never
 * dbus-next, never the daemon's start (every call carries NO_AUTO_START), and
 * never an error to the user: when no daemon serving the sysroot answers,
 * the caller reads the sysroot itself.
 */
import { resolve } from 'node:path';
import type { AutomaticConfig } from '../engine/automatic';
import { parsePolicy, parseScope } from '../engine/automatic';
import type { StatusJson } from '../engine/status';
import { BUS_NAME, DAEMON_IFACE, OBJECT_PATH } from '../dbus/contract';
import { FLAG_NO_AUTO_START, MiniBus, systemBusAddress, type Value } from '../dbus/mini-client';

/** A property of the daemon's interface, as a string ('' when it is not a string). */
async function property(bus: MiniBus, name: string): Promise<string> {
  const r = await bus.call({
    destination: BUS_NAME,
    path: OBJECT_PATH,
    interface: 'org.freedesktop.DBus.Properties',
    member: 'Get',
    signature: 'ss',
    body: [DAEMON_IFACE, name],
    flags: FLAG_NO_AUTO_START,
    timeout: 5000,
  });
  const v = r.body[0] as { value?: Value } | undefined;
  return typeof v?.value === 'string' ? v.value : '';
}

/**
 * A connection to a daemon that is already running (it is not started for
 * this) and serves `sysroot`; or undefined. APT_OSTREE_DIRECT=1 means none.
 */
export async function runningDaemon(sysroot: string): Promise<MiniBus | undefined> {
  if (process.env.APT_OSTREE_DIRECT === '1') return undefined;
  let bus: MiniBus;
  try {
    // A missing socket fails the connect at once (ENOENT): no separate check.
    bus = await MiniBus.connect(systemBusAddress(), 2000);
  } catch {
    return undefined;
  }
  try {
    // Not running: the bus answers NameHasNoOwner/ServiceUnknown (NO_AUTO_START).
    const served = await property(bus, 'Sysroot');
    if (served === '' || resolve(served) !== resolve(sysroot)) throw new Error('another sysroot');
    return bus;
  } catch {
    bus.close();
    return undefined;
  }
}

/**
 * The status (GetStatus: the JSON of `status --json`, all deployments) from
 * a running daemon that serves `sysroot`, on one short connection; or
 * undefined when there is none (then the caller reads the sysroot itself).
 */
export async function daemonStatus(sysroot: string): Promise<StatusJson | undefined> {
  const bus = await runningDaemon(sysroot);
  if (!bus) return undefined;
  try {
    const r = await bus.call({
      destination: BUS_NAME,
      path: OBJECT_PATH,
      interface: DAEMON_IFACE,
      member: 'GetStatus',
      flags: FLAG_NO_AUTO_START,
      timeout: 30000,
    });
    if (typeof r.body[0] !== 'string') return undefined;
    const st = JSON.parse(r.body[0]) as unknown;
    if (!st || typeof st !== 'object' || !Array.isArray((st as { deployments?: unknown }).deployments)) return undefined;
    return st as StatusJson;
  } catch {
    return undefined;
  } finally {
    bus.close();
  }
}

/**
 * The automatic-update settings in force in a running daemon that serves
 * `sysroot` (its AutomaticUpdatePolicy/Scope properties); or undefined when
 * no daemon runs (it is not started for this): then the configuration file
 * tells what a starting daemon would use.
 */
export async function daemonAutomaticSettings(sysroot: string): Promise<AutomaticConfig | undefined> {
  const bus = await runningDaemon(sysroot);
  if (!bus) return undefined;
  try {
    const policy = parsePolicy(await property(bus, 'AutomaticUpdatePolicy'));
    const scope = parseScope(await property(bus, 'AutomaticUpdateScope'));
    return policy && scope ? { policy, scope } : undefined;
  } catch {
    return undefined;
  } finally {
    bus.close();
  }
}
