/**
 * `apt-ostree cancel`: cancel the transaction in progress in the daemon (it
 * stops at its next safe point; nothing is deployed).
 */
import type { Command } from '@commander-js/extra-typings';
import { AptOstreeError } from '../../engine/errors';
import { entryOf } from '../../engine/operations/registry';
import { DAEMON_IFACE, OBJECT_PATH } from '../../dbus/contract';
import { connectDaemon, fromDBusError } from '../backend';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import { output, type VerbOutput } from '../output';

export async function cancelVerb(g: GlobalOptions): Promise<VerbOutput> {
  const d = await connectDaemon(g.sysroot);
  if (d.kind !== 'daemon') throw new AptOstreeError('not-found', `nothing to cancel: ${d.why}`);
  try {
    const r = await d.bus.call({
      destination: d.owner,
      path: OBJECT_PATH,
      interface: DAEMON_IFACE,
      member: 'CancelActive',
      timeout: 300000,
    });
    const path = String(r.body[0]);
    return output(path === '/' ? 'No transaction in progress\n' : `Cancelled ${path}\n`);
  } catch (e) {
    throw fromDBusError(e);
  } finally {
    d.bus.close();
  }
}

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  defineCommand(program, entryOf(['cancel'])!).action(async () => done(await cancelVerb(globals())));
}
