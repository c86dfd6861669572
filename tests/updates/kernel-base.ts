/**
 * A composed base with a real Debian kernel (linux-image-amd64, dracut,
 * systemd, udev), for the one initramfs test. Composed once by the real
 * `apt-ostree compose tree` (a few minutes) and cached under CACHE_DIR; a
 * changed treefile composes it again.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, CLI, sh } from '../lib/env';
import { runAsync } from '../lib/http-repo';

export const KERNEL_REF = 'debian/bookworm/test-kernel';

export const KERNEL_TREEFILE = [
  '# apt-ostree test base with a real kernel (tests/updates/kernel-base.ts)',
  `ref: ${KERNEL_REF}`,
  'version: "k1"',
  'suite: bookworm',
  'variant: minbase',
  'components: [main]',
  'packages: [systemd, udev, kmod]',
  'kernel: linux-image-amd64',
  '',
].join('\n');

export async function kernelBaseRepo(): Promise<{ repo: string; ref: string; checksum: string }> {
  const dir = join(CACHE_DIR, 'updates-kernel-base');
  const repo = join(dir, 'repo');
  const stamp = createHash('sha256').update(KERNEL_TREEFILE).digest('hex');
  const stampFile = join(dir, 'stamp');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) {
    return { repo, ref: KERNEL_REF, checksum: sh('ostree', ['rev-parse', `--repo=${repo}`, KERNEL_REF]).trim() };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const treefile = join(dir, 'treefile.yaml');
  writeFileSync(treefile, KERNEL_TREEFILE);
  const r = await runAsync(process.execPath, [CLI, 'compose', 'tree', treefile, '--repo', repo], {
    env: { ...process.env, APT_OSTREE_DIRECT: '1' },
  });
  if (r.code !== 0) throw new Error(`compose tree of the kernel base failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  writeFileSync(stampFile, `${stamp}\n`);
  return { repo, ref: KERNEL_REF, checksum: sh('ostree', ['rev-parse', `--repo=${repo}`, KERNEL_REF]).trim() };
}
