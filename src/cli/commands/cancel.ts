import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

/**
 * `apt-ostree cancel`: cancel the transaction in progress in the daemon (it
 * stops at its next safe point; nothing is deployed).
 */
export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('cancel')
    .description('Cancel the transaction in progress (through the daemon)')
    .action(async () => {
      const { connectDaemon, fromDBusError } = await import('../backend');
      const { AptOstreeError } = await import('../../engine/errors');
      const d = await connectDaemon(globals().sysroot);
      if (d.kind !== 'daemon') throw new AptOstreeError('not-found', `nothing to cancel: ${d.why}`);
      const c = await import('../../dbus/contract');
      try {
        const r = await d.bus.call({
          destination: d.owner,
          path: c.OBJECT_PATH,
          interface: c.DAEMON_IFACE,
          member: 'CancelActive',
          timeout: 300000,
        });
        const path = String(r.body[0]);
        process.stdout.write(path === '/' ? 'No transaction in progress\n' : `Cancelled ${path}\n`);
      } catch (e) {
        throw await fromDBusError(e);
      } finally {
        d.bus.close();
      }
    });
}
