/**
 * Client-side initramfs regeneration (`apt-ostree initramfs --enable`):
 * dracut runs in bubblewrap against the tree's own kernel and tools, with the
 * tree mounted read-only; dracut writes into a scratch directory, and the
 * image is then renamed over /usr/lib/modules/$kver/initramfs.img, so a file
 * shared with the repository (hardlink checkout) is never written through.
 */
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AptOstreeError } from './errors';
import { run } from './exec';
import { task, type Progress } from './progress';
import { treeKernels } from './tree/layout';

export interface InitramfsContext {
  progress: Progress;
  signal: AbortSignal;
}

/**
 * Regenerate the initramfs of the tree at `rootDir` (an OSTree layout: /usr,
 * /usr/etc) with dracut, passing `args` on to it. The new image is renamed
 * over /usr/lib/modules/$kver/initramfs.img (never written through a hardlink
 * shared with the repo).
 */
export async function regenerateInitramfs(rootDir: string, args: readonly string[], ctx: InitramfsContext): Promise<void> {
  const kernels = treeKernels(rootDir);
  if (kernels.length === 0) {
    throw new AptOstreeError(
      'not-found',
      `no kernel in the tree (no /usr/lib/modules/*/vmlinuz in ${rootDir}); cannot regenerate the initramfs`,
      {
        hint: 'the base must ship a kernel (a treefile with "kernel: linux-image-amd64")',
      },
    );
  }
  if (kernels.length > 1) {
    throw new AptOstreeError(
      'invalid-config',
      `the tree has more than one kernel (${kernels.map((k) => k.version).join(', ')}); cannot tell which initramfs to regenerate`,
    );
  }
  const kver = kernels[0]!.version;
  const dracut = ['usr/bin/dracut', 'usr/sbin/dracut'].find((p) => existsSync(join(rootDir, p)));
  if (!dracut) {
    throw new AptOstreeError('not-found', 'dracut is not installed in the deployment; cannot regenerate the initramfs', {
      hint: 'layer it first (apt-ostree install dracut) or compose it into the base',
    });
  }
  const etc = existsSync(join(rootDir, 'usr', 'etc')) ? join(rootDir, 'usr', 'etc') : join(rootDir, 'etc');
  const target = join(rootDir, 'usr', 'lib', 'modules', kver, 'initramfs.img');
  const scratch = mkdtempSync(join(dirname(rootDir), '.apt-ostree-initramfs-'));
  try {
    const bw: string[] = [
      '--unshare-pid',
      '--unshare-net',
      '--unshare-ipc',
      '--unshare-uts',
      '--die-with-parent',
      '--ro-bind',
      join(rootDir, 'usr'),
      '/usr',
      '--ro-bind',
      etc,
      '/etc',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--tmpfs',
      '/tmp',
      '--tmpfs',
      '/var',
      '--tmpfs',
      '/run',
      '--dir',
      '/var/tmp',
      '--bind',
      scratch,
      '/out',
      '--setenv',
      'PATH',
      '/usr/sbin:/usr/bin:/sbin:/bin',
      '--setenv',
      'LANG',
      'C.UTF-8',
      '--unsetenv',
      'TMPDIR',
    ];
    // The tree's top-level symlinks (merged /usr: /bin -> usr/bin, /lib -> usr/lib...).
    for (const name of readdirSync(rootDir)) {
      const p = join(rootDir, name);
      if (!lstatSync(p).isSymbolicLink() || ['etc', 'tmp', 'var', 'run', 'proc', 'dev', 'usr'].includes(name)) continue;
      const to = readlinkSync(p);
      if (/^\/?usr\//.test(to)) bw.push('--symlink', to, `/${name}`);
    }
    const dracutArgs = ['--no-hostonly', '--reproducible', '--force', '--tmpdir', '/tmp', '--kver', kver];
    if (existsSync(join(rootDir, 'usr', 'lib', 'dracut', 'modules.d', '98ostree'))) dracutArgs.push('--add', 'ostree');
    dracutArgs.push(...args, '/out/initramfs.img');
    await task(ctx.progress, `Generating the initramfs for ${kver} with dracut`, () =>
      run('bwrap', [...bw, `/${dracut}`, ...dracutArgs], {
        signal: ctx.signal,
        errorCode: 'internal',
        what: `regenerating the initramfs of ${kver} (dracut ${args.join(' ')})`,
        hint: 'check the dracut arguments given with --arg',
      }),
    );
    const out = join(scratch, 'initramfs.img');
    if (!existsSync(out) || statSync(out).size === 0) {
      throw new AptOstreeError('internal', `dracut made no initramfs for ${kver}`);
    }
    // Same directory as the target, then rename: the old file (maybe a hardlink into the repo) is replaced, not written.
    const tmp = `${target}.apt-ostree-new`;
    copyFileSync(out, tmp);
    renameSync(tmp, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
