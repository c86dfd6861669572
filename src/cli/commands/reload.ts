/**
 * `apt-ostree reload`: make apt-ostreed read /etc/apt-ostree/apt-ostreed.conf
 * again (D-Bus Reload() -> as problems). A value it cannot use (an unknown
 * policy, say) is logged by the daemon, which keeps the previous valid
 * setting; the reply lists those problems and the command exits 1 so that
 * they are seen. When the daemon is not running there is nothing to reload
 * (it reads the file when it starts): the file is checked here instead.
 */
import { existsSync } from 'node:fs';
import type { Command } from '@commander-js/extra-typings';
import { loadDaemonConfig } from '../../engine/config';
import { AptOstreeError } from '../../engine/errors';
import { entryOf } from '../../engine/operations/registry';
import { BusConnection, DBusCallError, FLAG_ALLOW_INTERACTIVE_AUTHORIZATION, socketPathOf, systemBusAddress } from '../../dbus/bus';
import { BUS_NAME, DAEMON_IFACE, errorFromReply, OBJECT_PATH } from '../../dbus/contract';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import { output, type VerbOutput } from '../output';

function report(problems: readonly string[], done: string): void {
  if (problems.length > 0) {
    throw new AptOstreeError('invalid-config', `${done}, but kept previous values:\n${problems.join('\n')}`, {
      hint: 'fix /etc/apt-ostree/apt-ostreed.conf and run "apt-ostree reload" again',
    });
  }
}

function checkFile(why: string): VerbOutput {
  const r = loadDaemonConfig();
  report(r.problems, `${why}; ${r.path} was checked`);
  return output(`${why}: it reads its configuration when it starts; nothing to reload (${r.path} is valid).\n`);
}

export async function reloadVerb(): Promise<VerbOutput> {
  if (process.env.APT_OSTREE_DIRECT === '1') return checkFile('apt-ostreed is not used (APT_OSTREE_DIRECT=1)');
  const address = systemBusAddress();
  const sock = socketPathOf(address);
  if (sock !== undefined && !existsSync(sock)) return checkFile(`apt-ostreed is not running (no system bus at ${sock})`);
  let bus: BusConnection;
  try {
    bus = await BusConnection.connect(address, 5000);
  } catch (e) {
    return checkFile(`apt-ostreed is not running (the system bus cannot be reached: ${(e as Error).message})`);
  }
  try {
    if ((await bus.busCall('NameHasOwner', 's', [BUS_NAME])).body[0] !== true) return checkFile('apt-ostreed is not running');
    let problems: unknown;
    try {
      const r = await bus.call({
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'Reload',
        flags: process.stdin.isTTY ? FLAG_ALLOW_INTERACTIVE_AUTHORIZATION : 0,
        timeout: 60000,
      });
      problems = r.body[0];
    } catch (e) {
      if (e instanceof DBusCallError) {
        const err = errorFromReply(e.errorName, e.message, e.data);
        throw new AptOstreeError(err.code, `apt-ostreed did not reload its configuration: ${err.message}`, err);
      }
      throw e;
    }
    const list = Array.isArray(problems) ? problems.filter((p): p is string => typeof p === 'string') : [];
    report(list, 'the daemon reloaded its configuration');
    return output('Configuration reloaded.\n');
  } finally {
    bus.close();
  }
}

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  void globals;
  defineCommand(program, entryOf(['reload'])!).action(async () => done(await reloadVerb()));
}
