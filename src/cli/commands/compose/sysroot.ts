import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../../globals';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(compose: Command, globals: () => GlobalOptions): void {
  compose
    .command('sysroot')
    .argument('<dir>', 'directory to make the sysroot in (new or empty)')
    .requiredOption('--repo <repo>', 'OSTree repository holding REF')
    .requiredOption('--ref <ref>', 'ref to deploy')
    .option('--stateroot <name>', 'stateroot (OS name)', 'debian')
    .option('--karg <K=V>', 'kernel argument of the first deployment (repeatable)', collect, [] as string[])
    .option('--remote <NAME=URL>', 'configure a remote to follow; the origin becomes NAME:REF')
    .option(
      '--sign-verify <TYPE=inline:KEY>',
      'with --remote: require signatures (ostree remote add --sign-verify, e.g. ed25519=inline:KEY)',
      collect,
      [] as string[],
    )
    .option('--gpg-import <file>', 'with --remote: require GPG signatures by the keys of FILE')
    .description('Initialize DIR as an OSTree sysroot and deploy REF as its first deployment')
    .action(async (dir, o) => {
      void globals;
      const { composeSysroot, parseRemoteArg } = await import('../../../engine/compose/sysroot');
      const { usageError } = await import('../../../engine/errors');
      const { TerminalProgress } = await import('../../progress');
      if (!o.remote && (o.signVerify.length > 0 || o.gpgImport)) {
        throw usageError('--sign-verify and --gpg-import need --remote');
      }
      const remote = o.remote ? { ...parseRemoteArg(o.remote), signVerify: o.signVerify, gpgImport: o.gpgImport } : undefined;
      const progress = new TerminalProgress();
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await composeSysroot(
          { repo: o.repo, ref: o.ref, stateroot: o.stateroot, kargs: o.karg, remote, dir },
          progress,
          ac.signal,
        );
        progress.finish();
        process.stdout.write(`Deployed ${r.refspec} (${r.checksum}) in ${r.sysroot}, stateroot ${r.osname}\n`);
      } finally {
        process.removeListener('SIGINT', onSigint);
        progress.finish();
      }
    });
}
