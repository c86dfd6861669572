/**
 * Client-side initramfs regeneration (`apt-ostree initramfs --enable`):
 * dracut runs inside bubblewrap against the tree's own kernel and tools, and
 * its output replaces /usr/lib/modules/$kver/initramfs.img in that tree.
 */
import type { Progress } from './progress';

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
  const impl = await import('./updates/initramfs-impl');
  return impl.regenerateInitramfsImpl(rootDir, args, ctx);
}
