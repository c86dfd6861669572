/**
 * initramfs --enable / --disable on a base with a real Debian kernel: dracut
 * runs in the sandbox against the deployment's kernel, its image replaces
 * /usr/lib/modules/$kver/initramfs.img in the new client commit and in the
 * boot entry; --disable returns to the base's image. The one slow test of
 * this area (dracut; the first run also composes the kernel base).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSysroot } from '../../src/engine/sysroot';
import { CLI, sh, tmpdir } from '../lib/env';
import { runAsync, runCliAsync } from '../lib/http-repo';
import { removeSysrootDir } from '../lib/sysroot';
import { kernelBaseRepo } from './kernel-base';

let dir: string;
let sysroot: string;

const cli = (...args: string[]) => runCliAsync(['--sysroot', sysroot, ...args]);
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

async function top() {
  const d = (await loadSysroot(sysroot)).deployments[0]!;
  const kver = readdirSync(join(d.deployPath, 'usr/lib/modules'))[0]!;
  return { d, kver, image: join(d.deployPath, 'usr/lib/modules', kver, 'initramfs.img') };
}

before(async () => {
  const kb = await kernelBaseRepo();
  dir = tmpdir('upd-initramfs');
  sysroot = join(dir, 'sysroot');
  const r = await runAsync(process.execPath, [CLI, 'compose', 'sysroot', sysroot, '--repo', kb.repo, '--ref', kb.ref], {
    env: { ...process.env, APT_OSTREE_DIRECT: '1' },
  });
  assert.equal(r.code, 0, r.stderr);
});

after(() => {
  if (dir) removeSysrootDir(dir);
});

test('initramfs --enable regenerates with dracut against the deployment kernel; --disable returns to the base image', async () => {
  const base = await top();
  const baseHash = sha(base.image);

  const en = await cli('initramfs', '--enable', '--arg=--add-drivers', '--arg=squashfs');
  assert.equal(en.code, 0, en.stderr);
  const t = await top();
  assert.notEqual(t.d.checksum, base.d.checksum);
  assert.equal(t.d.baseChecksum, base.d.checksum, 'same base, client commit on top');
  assert.equal(t.d.origin?.initramfsRegenerate, true);
  assert.deepEqual(t.d.origin?.initramfsArgs, ['--add-drivers', 'squashfs']);
  assert.match(readFileSync(t.d.originPath, 'utf8'), /\[aptostree\]\ninitramfs-regenerate=true\ninitramfs-args=--add-drivers;squashfs;/);
  const newHash = sha(t.image);
  assert.notEqual(newHash, baseHash, 'a new image');
  const listing = sh('lsinitrd', [t.image]);
  assert.match(listing, /Arguments:.*--kver '[^']+'.*--add-drivers 'squashfs'/);
  assert.match(listing, /squashfs\.ko/);
  assert.match(listing, /ostree-prepare-root/);
  // The boot entry points at the new image.
  const initrd = t.d.bootconfig.initrd;
  assert.ok(initrd, 'boot entry has an initrd');
  assert.equal(sha(join(sysroot, 'boot', initrd!.replace(/^\/boot\//, '').replace(/^\//, ''))), newHash);
  const st = JSON.parse((await cli('status', '--json')).stdout) as { deployments: Record<string, unknown>[] };
  assert.equal(st.deployments[0]!['regenerate-initramfs'], true);
  assert.deepEqual(st.deployments[0]!['initramfs-args'], ['--add-drivers', 'squashfs']);
  sh('ostree', ['fsck', `--repo=${sysroot}/ostree/repo`]);

  const same = await cli('initramfs', '--enable', '--arg=--add-drivers', '--arg=squashfs', '--unchanged-exit-77');
  assert.equal(same.code, 77, same.stderr);

  const dis = await cli('initramfs', '--disable');
  assert.equal(dis.code, 0, dis.stderr);
  const back = await top();
  assert.equal(back.d.checksum, base.d.checksum, 'the base commit itself again');
  assert.equal(back.d.origin?.initramfsRegenerate, false);
  assert.equal(sha(back.image), baseHash);
  const st2 = JSON.parse((await cli('status', '--json')).stdout) as { deployments: Record<string, unknown>[] };
  assert.equal(st2.deployments[0]!['regenerate-initramfs'], false);

  const again = await cli('initramfs', '--disable');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /initramfs regeneration is not enabled/);
});
