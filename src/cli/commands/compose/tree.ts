import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../../globals';
import { notImplemented } from '../../../engine/errors';

export function register(compose: Command, globals: () => GlobalOptions): void {
  compose
    .command('tree')
    .argument('<treefile>', 'YAML treefile')
    .requiredOption('--repo <repo>', 'OSTree repository to commit to (archive mode, created when missing)')
    .description('Build a Debian tree with mmdebstrap and commit it')
    .action(async () => {
      void globals;
      throw notImplemented('compose tree');
    });
}
