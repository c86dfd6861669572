import { composeSysroot, parseRemoteArg } from '../../../engine/compose/sysroot';
import { usageError } from '../../../engine/errors';
import { entryOf } from '../../../engine/operations/registry';
import { defineCommand, type RegistryCommand } from '../../define';
import type { GlobalOptions } from '../../globals';
import { output, type VerbOutput } from '../../output';
import { withTerminalProgress } from '../../progress';

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
  const r = await withTerminalProgress((progress, signal) =>
    composeSysroot({ repo: o.repo, ref: o.ref, stateroot: o.stateroot, kargs: o.karg, remote, dir }, progress, signal),
  );
  return output(`Deployed ${r.refspec} (${r.checksum}) in ${r.sysroot}, stateroot ${r.osname}\n`);
}

export function register(compose: RegistryCommand, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  void globals;
  defineCommand(compose, entryOf(['compose', 'sysroot'])!).action(async (dir, opts) =>
    done(await composeSysrootVerb(dir as string, opts as unknown as SysrootOptions)),
  );
}
