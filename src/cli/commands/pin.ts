import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('pin')
    .argument('<index>', 'deployment index, as "apt-ostree status" lists them (0 = first)')
    .option('-u, --unpin', 'remove the pin')
    .option('--unchanged-exit-77', 'exit 77 when nothing changed')
    .description('Pin a deployment so that no update or cleanup removes it (ostree admin pin)')
    .action(async (index, o) => {
      const { usageError } = await import('../../engine/errors');
      if (!/^\d+$/.test(index))
        throw usageError(`"${index}" is not a deployment index`, 'give the number "apt-ostree status" shows (0 = first)');
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), { kind: 'pin', index: Number(index), unpin: o.unpin === true, options: {} });
      reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
    });
}
