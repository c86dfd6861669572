import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

/**
 * `apt-ostree reload`: make apt-ostreed read /etc/apt-ostree/apt-ostreed.conf
 * again (D-Bus Reload()). A value it cannot use (an unknown policy, say) is
 * logged by the daemon, which keeps the previous valid setting; the reply
 * lists those problems and the command exits 1 so that they are seen.
 */
export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('reload')
    .description('Make the daemon read its configuration again')
    .action(async () => {
      void globals;
      const { AptOstreeError } = await import('../../engine/errors');
      const dbus = await import('dbus-next');
      const bus = dbus.systemBus();
      // dbus-next reports a bus it cannot connect to as an 'error' event.
      const busError = new Promise<never>((_, reject) => bus.on('error', (e: Error) => reject(Object.assign(e, { noBus: true }))));
      busError.catch(() => undefined);
      try {
        let daemon;
        try {
          const obj = await Promise.race([bus.getProxyObject('org.aptostree.dev', '/org/aptostree/dev'), busError]);
          daemon = obj.getInterface('org.aptostree.dev.Daemon');
        } catch (e) {
          const name = (e as { type?: string }).type ?? '';
          if ((e as { noBus?: boolean }).noBus) {
            process.stdout.write(`apt-ostreed is not running (no system bus: ${(e as Error).message}): it reads its configuration when it starts; nothing to reload.\n`);
            return;
          }
          if (/ServiceUnknown|NameHasNoOwner/.test(name) || /was not provided|not activatable/i.test((e as Error).message)) {
            process.stdout.write('apt-ostreed is not running: it reads its configuration when it starts; nothing to reload.\n');
            return;
          }
          throw new AptOstreeError('internal', `cannot reach apt-ostreed on the system bus: ${(e as Error).message}`);
        }
        let problems: unknown;
        try {
          problems = await Promise.race([(daemon as unknown as { Reload(): Promise<unknown> }).Reload(), busError]);
        } catch (e) {
          throw new AptOstreeError('internal', `apt-ostreed could not reload its configuration: ${(e as Error).message}`);
        }
        const list = Array.isArray(problems) ? problems.filter((p): p is string => typeof p === 'string') : [];
        if (list.length > 0) {
          throw new AptOstreeError('invalid-config', `the daemon reloaded its configuration but kept previous values:\n${list.join('\n')}`, {
            hint: 'fix /etc/apt-ostree/apt-ostreed.conf and run "apt-ostree reload" again',
          });
        }
        process.stdout.write('Configuration reloaded.\n');
      } finally {
        bus.disconnect();
      }
    });
}
