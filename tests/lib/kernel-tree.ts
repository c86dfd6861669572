/**
 * A Debian tree with a real kernel and dracut (for the initramfs test), made
 * once by mmdebstrap from the mirror this machine's APT sources name, and
 * cached under CACHE_DIR. Slow the first time (a few minutes).
 */
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, removeTree, sh } from './env';

/** The first URIs of the deb822 sources file whose Suites include a plain suite (not -security). */
export function debianMirror(): { uri: string; suite: string } {
  const text = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
    const uris = field('URIs');
    const suites = field('Suites');
    if (!uris || !suites) continue;
    const suite = suites.split(/\s+/).find((s) => !s.includes('-'));
    if (suite) return { uri: uris.split(/\s+/)[0]!, suite };
  }
  throw new Error('no Debian mirror in /etc/apt/sources.list.d/debian.sources');
}

/** Path of a root directory with linux-image-amd64 and dracut installed (plain layout, /etc and /boot). */
export function kernelTree(): string {
  const dir = join(CACHE_DIR, 'updates-kernel-tree');
  const root = join(dir, 'rootfs');
  if (existsSync(join(dir, 'done'))) return root;
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `rootfs.tmp-${process.pid}`);
  removeTree(tmp);
  const { uri, suite } = debianMirror();
  sh('mmdebstrap', [
    '--variant=minbase',
    '--include=linux-image-amd64,dracut,ostree-boot,kmod,systemd,udev',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    suite,
    tmp,
    uri,
  ]);
  removeTree(root);
  renameSync(tmp, root);
  sh('touch', [join(dir, 'done')]);
  return root;
}
