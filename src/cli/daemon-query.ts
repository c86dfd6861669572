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

const DAEMON = { destination: BUS_NAME, path: OBJECT_PATH };

/** A property of the daemon's interface, as a string ('' when it is not a string). */
async function property(bus: MiniBus, name: string): Promise<string> {
  const r = await bus.call({
    ...DAEMON,
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
 * Ask a running daemon (it is not started for this: NO_AUTO_START) that
 * serves `sysroot`: `ask` makes its calls on the connection at once, with
 * the one that reads the daemon's Sysroot (one round trip for all); its
 * answer counts only when that Sysroot is `sysroot`. Undefined when no such
 * daemon answers, or APT_OSTREE_DIRECT=1.
 */
async function askDaemon<T>(sysroot: string, ask: (bus: MiniBus) => Promise<T>): Promise<T | undefined> {
  if (process.env.APT_OSTREE_DIRECT === '1') return undefined;
  let bus: MiniBus;
  try {
    // A missing socket fails the connection at once (ENOENT): no separate check.
    bus = MiniBus.open(systemBusAddress(), 2000);
  } catch {
    return undefined;
  }
  try {
    const served = property(bus, 'Sysroot');
    const answer = ask(bus);
    answer.catch(() => undefined); // awaited only for the right sysroot
    const path = await served;
    if (path === '' || resolve(path) !== resolve(sysroot)) return undefined;
    return await answer;
  } catch {
    return undefined;
  } finally {
    bus.close();
  }
}

/**
 * The status (GetStatus: the JSON of `status --json`, all deployments) from
 * a running daemon that serves `sysroot`, on one short connection; or
 * undefined when there is none (then the caller reads the sysroot itself).
 */
export async function daemonStatus(sysroot: string): Promise<StatusJson | undefined> {
  const text = await askDaemon(sysroot, async (bus) => {
    const r = await bus.call({ ...DAEMON, interface: DAEMON_IFACE, member: 'GetStatus', flags: FLAG_NO_AUTO_START, timeout: 30000 });
    return r.body[0];
  });
  if (typeof text !== 'string') return undefined;
  try {
    const st = JSON.parse(text) as unknown;
    if (!st || typeof st !== 'object' || !Array.isArray((st as { deployments?: unknown }).deployments)) return undefined;
    return st as StatusJson;
  } catch {
    return undefined;
  }
}

/**
 * The automatic-update settings in force in a running daemon that serves
 * `sysroot` (its AutomaticUpdatePolicy/Scope properties); or undefined when
 * no daemon runs (it is not started for this): then the configuration file
 * tells what a starting daemon would use.
 */
export async function daemonAutomaticSettings(sysroot: string): Promise<AutomaticConfig | undefined> {
  return askDaemon(sysroot, async (bus) => {
    const [p, s] = await Promise.all([property(bus, 'AutomaticUpdatePolicy'), property(bus, 'AutomaticUpdateScope')]);
    const policy = parsePolicy(p);
    const scope = parseScope(s);
    return policy && scope ? { policy, scope } : undefined;
  });
}
