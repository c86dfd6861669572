import { composeTree } from '../../../engine/compose/tree';
import { usageError } from '../../../engine/errors';
import { entryOf } from '../../../engine/operations/registry';
import { loadTreefile } from '../../../engine/treefile';
import { defineCommand, type RegistryCommand } from '../../define';
import { EXIT_UNCHANGED, type GlobalOptions } from '../../globals';
import { output, type VerbOutput } from '../../output';
import { TerminalProgress } from '../../progress';

interface TreeOptions {
  repo: string;
  ed25519Key?: string;
  gpgSign?: string;
  gpgHomedir?: string;
  staticDelta?: boolean;
  force?: boolean;
  unchangedExit77?: boolean;
  workdir?: string;
}

export async function composeTreeVerb(treefile: string, opts: TreeOptions): Promise<VerbOutput> {
  if (opts.gpgHomedir !== undefined && opts.gpgSign === undefined) throw usageError('--gpg-homedir needs --gpg-sign');
  if (opts.gpgSign !== undefined && opts.ed25519Key !== undefined) throw usageError('give either --gpg-sign or --ed25519-key, not both');
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
    return output('', { exitCode: !result.changed && opts.unchangedExit77 === true ? EXIT_UNCHANGED : 0 });
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
  }
}

export function register(compose: RegistryCommand, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  void globals;
  defineCommand(compose, entryOf(['compose', 'tree'])!).action(async (treefile, opts) =>
    done(await composeTreeVerb(treefile as string, opts as unknown as TreeOptions)),
  );
}
