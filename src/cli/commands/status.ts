import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';
import { notImplemented } from '../../engine/errors';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('Show the deployments of the system')
    .option('--json', 'print JSON shaped like rpm-ostree status --json')
    .option('-b, --booted', 'only the booted deployment')
    .option('-v, --verbose', 'full checksums and more detail')
    .action(async () => {
      void globals;
      throw notImplemented('status');
    });
}
