import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

/**
 * `apt-ostree reload`: make apt-ostreed read /etc/apt-ostree/apt-ostreed.conf
 * again (D-Bus Reload() -> as problems). A value it cannot use (an unknown
 * policy, say) is logged by the daemon, which keeps the previous valid
 * setting; the reply lists those problems and the command exits 1 so that
 * they are seen. When the daemon is not running there is nothing to reload
 * (it reads the file when it starts): the file is checked here instead.
 */
export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('reload')
    .description('Make the daemon read its configuration again')
    .action(async () => {
      void globals;
      const { AptOstreeError } = await import('../../engine/errors');
      const report = (problems: readonly string[], done: string): void => {
        if (problems.length > 0) {
          throw new AptOstreeError('invalid-config', `${done}, but kept previous values:\n${problems.join('\n')}`, {
            hint: 'fix /etc/apt-ostree/apt-ostreed.conf and run "apt-ostree reload" again',
          });
        }
      };
      const checkFile = async (why: string): Promise<void> => {
        const { loadDaemonConfig } = await import('../../engine/config');
        const r = loadDaemonConfig();
        report(r.problems, `${why}; ${r.path} was checked`);
        process.stdout.write(`${why}: it reads its configuration when it starts; nothing to reload (${r.path} is valid).\n`);
      };
      if (process.env.APT_OSTREE_DIRECT === '1') {
        await checkFile('apt-ostreed is not used (APT_OSTREE_DIRECT=1)');
        return;
      }
      const { BusConnection, DBusCallError, FLAG_ALLOW_INTERACTIVE_AUTHORIZATION, socketPathOf, systemBusAddress } =
        await import('../../dbus/bus');
      const { BUS_NAME, DAEMON_IFACE, OBJECT_PATH, errorCodeOf } = await import('../../dbus/contract');
      const address = systemBusAddress();
      const sock = socketPathOf(address);
      if (sock !== undefined) {
        const { existsSync } = await import('node:fs');
        if (!existsSync(sock)) {
          await checkFile(`apt-ostreed is not running (no system bus at ${sock})`);
          return;
        }
      }
      let bus: import('../../dbus/bus').BusConnection;
      try {
        bus = await BusConnection.connect(address, 5000);
      } catch (e) {
        await checkFile(`apt-ostreed is not running (the system bus cannot be reached: ${(e as Error).message})`);
        return;
      }
      try {
        if ((await bus.busCall('NameHasOwner', 's', [BUS_NAME])).body[0] !== true) {
          await checkFile('apt-ostreed is not running');
          return;
        }
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
            const code = e.errorName === 'org.freedesktop.DBus.Error.AccessDenied' ? 'denied' : errorCodeOf(e.errorName);
            throw new AptOstreeError(code, `apt-ostreed did not reload its configuration: ${e.message}`);
          }
          throw e;
        }
        const list = Array.isArray(problems) ? problems.filter((p): p is string => typeof p === 'string') : [];
        report(list, 'the daemon reloaded its configuration');
        process.stdout.write('Configuration reloaded.\n');
      } finally {
        bus.close();
      }
    });
}
