import { composeSysroot, parseRemoteArg } from '../../../engine/compose/sysroot';
import { usageError } from '../../../engine/errors';
import { entryOf } from '../../../engine/operations/registry';
import { defineCommand, type RegistryCommand } from '../../define';
import type { GlobalOptions } from '../../globals';
import { output, type VerbOutput } from '../../output';
import { TerminalProgress } from '../../progress';

interface SysrootOptions {
  repo: string;
  ref: string;
  stateroot: string;
  karg: string[];
  remote?: string;
  signVerify: string[];
  gpgImport?: string;
}

export async function composeSysrootVerb(dir: string, o: SysrootOptions): Promise<VerbOutput> {
  if (!o.remote && (o.signVerify.length > 0 || o.gpgImport)) throw usageError('--sign-verify and --gpg-import need --remote');
  const remote = o.remote ? { ...parseRemoteArg(o.remote), signVerify: o.signVerify, gpgImport: o.gpgImport } : undefined;
  const progress = new TerminalProgress();
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const r = await composeSysroot({ repo: o.repo, ref: o.ref, stateroot: o.stateroot, kargs: o.karg, remote, dir }, progress, ac.signal);
    progress.finish();
    return output(`Deployed ${r.refspec} (${r.checksum}) in ${r.sysroot}, stateroot ${r.osname}\n`);
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
  }
}

export function register(compose: RegistryCommand, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  void globals;
  defineCommand(compose, entryOf(['compose', 'sysroot'])!).action(async (dir, opts) =>
    done(await composeSysrootVerb(dir as string, opts as unknown as SysrootOptions)),
  );
}
