import type { Command } from '@commander-js/extra-typings';
import { EXIT_UNCHANGED, type GlobalOptions } from '../../globals';
import { usageError } from '../../../engine/errors';

export function register(compose: Command, globals: () => GlobalOptions): void {
  compose
    .command('tree')
    .argument('<treefile>', 'YAML treefile')
    .requiredOption('--repo <repo>', 'OSTree repository to commit to (archive mode, created when missing)')
    .option('--ed25519-key <file>', 'sign the commit and the summary with this ed25519 secret key (ostree sign)')
    .option('--gpg-sign <keyid>', 'sign the commit and the summary with this GPG key')
    .option('--gpg-homedir <dir>', 'GnuPG home directory holding the --gpg-sign key')
    .option('--static-delta', 'generate a static delta from the previous commit of the ref')
    .option('--force', 'commit even when the inputs did not change')
    .option('--unchanged-exit-77', 'exit with status 77 when nothing changed')
    .option('--workdir <dir>', 'where to build the tree (default: REPO/tmp)')
    .description('Build a Debian tree with mmdebstrap and commit it')
    .action(async (treefile, opts) => {
      void globals;
      if (opts.gpgHomedir !== undefined && opts.gpgSign === undefined) throw usageError('--gpg-homedir needs --gpg-sign');
      if (opts.gpgSign !== undefined && opts.ed25519Key !== undefined)
        throw usageError('give either --gpg-sign or --ed25519-key, not both');
      const { loadTreefile } = await import('../../../engine/treefile');
      const { composeTree } = await import('../../../engine/compose/tree');
      const { TerminalProgress } = await import('../../progress');
      const tf = loadTreefile(treefile);
      const progress = new TerminalProgress();
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const result = await composeTree({
          treefile: tf,
          repo: opts.repo,
          progress,
          signal: ac.signal,
          ed25519KeyFile: opts.ed25519Key,
          gpgSign: opts.gpgSign !== undefined ? { keyId: opts.gpgSign, homedir: opts.gpgHomedir } : undefined,
          staticDelta: opts.staticDelta === true,
          force: opts.force === true,
          workdir: opts.workdir,
        });
        if (!result.changed && opts.unchangedExit77 === true) process.exitCode = EXIT_UNCHANGED;
      } finally {
        process.removeListener('SIGINT', onSigint);
        progress.finish();
      }
    });
}
