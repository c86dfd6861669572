/** The OSTree layout functions on small synthetic trees (no mmdebstrap). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareOstreeLayout, writePlaceholderKernel } from '../../src/engine/compose/layout';
import { convertVarToTmpfiles, treeKernels } from '../../src/engine/tree/layout';
import { removeTree, tmpdir } from '../lib/env';

const scratch = tmpdir('layout');
after(() => removeTree(scratch));

function tree(name: string): string {
  const root = join(scratch, name);
  mkdirSync(join(root, 'usr/lib/tmpfiles.d'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nmail:x:8:\nnogroup:x:65534:\n');
  return root;
}

test('convertVarToTmpfiles: d, L, f, C entries; declared paths left alone; /var emptied; extended on reuse', () => {
  const root = tree('var');
  mkdirSync(join(root, 'var/lib/foo'), { recursive: true, mode: 0o750 });
  mkdirSync(join(root, 'var/mail'), { recursive: true });
  chownSync(join(root, 'var/mail'), 0, 8);
  mkdirSync(join(root, 'var/cache/apt'), { recursive: true });
  chownSync(join(root, 'var/cache/apt'), 42, 65534);
  symlinkSync('/run', join(root, 'var/run'));
  writeFileSync(join(root, 'var/lib/foo/empty'), '');
  writeFileSync(join(root, 'var/lib/foo/state with space'), 'content\n');
  mkdirSync(join(root, 'var/log'));
  writeFileSync(join(root, 'usr/lib/tmpfiles.d/other.conf'), 'd /var/log 0755 root root -\n');

  const lines = convertVarToTmpfiles(root, 'test-var');
  const conf = readFileSync(join(root, 'usr/lib/tmpfiles.d/test-var.conf'), 'utf8');
  assert.match(conf, /^d \/var\/lib\/foo 0750 root root - -$/m);
  assert.match(conf, /^d \/var\/mail 0755 root mail - -$/m);
  assert.match(conf, /^d \/var\/cache\/apt 0755 _apt nogroup - -$/m);
  assert.match(conf, /^L \/var\/run - - - - \/run$/m);
  assert.match(conf, /^f \/var\/lib\/foo\/empty 0644 root root - -$/m);
  assert.match(
    conf,
    /^C \/var\/lib\/foo\/state\\x20with\\x20space - - - - \/usr\/share\/factory\/var\/lib\/foo\/state\\x20with\\x20space$/m,
  );
  assert.doesNotMatch(conf, /\/var\/log /, 'declared by another snippet');
  assert.equal(readFileSync(join(root, 'usr/share/factory/var/lib/foo/state with space'), 'utf8'), 'content\n');
  assert.deepEqual(readdirSync(join(root, 'var')), []);
  assert.ok(lines.length >= 6);

  // a second pass (e.g. layering) adds only what is new
  mkdirSync(join(root, 'var/lib/foo'), { recursive: true, mode: 0o750 });
  mkdirSync(join(root, 'var/lib/bar'), { recursive: true });
  const more = convertVarToTmpfiles(root, 'test-var');
  assert.deepEqual(more, ['d /var/lib/bar 0755 root root - -']);
  const conf2 = readFileSync(join(root, 'usr/lib/tmpfiles.d/test-var.conf'), 'utf8');
  assert.equal(conf2.match(/^d \/var\/lib\/foo /gm)?.length, 1);
});

test('prepareOstreeLayout: /etc, dpkg database, toplevel symlinks, empty API dirs', () => {
  const root = tree('full');
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  writeFileSync(join(root, 'var/lib/dpkg/status'), 'Package: x\n');
  mkdirSync(join(root, 'var/cache/debconf'), { recursive: true });
  writeFileSync(join(root, 'var/cache/debconf/config.dat'), 'Name: x\n');
  mkdirSync(join(root, 'var/lib/apt/lists'), { recursive: true });
  writeFileSync(join(root, 'var/lib/apt/lists/x_Packages'), 'Package: x\n');
  mkdirSync(join(root, 'root'), { mode: 0o700 });
  writeFileSync(join(root, 'root/.profile'), 'x\n');
  mkdirSync(join(root, 'home'));
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(root, 'media'));
  mkdirSync(join(root, 'dev'));
  writeFileSync(join(root, 'dev/null-ish'), '');
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'boot/vmlinuz-x'), 'k');
  writePlaceholderKernel(root);

  prepareOstreeLayout(root);
  assert.ok(!existsSync(join(root, 'etc')));
  assert.ok(existsSync(join(root, 'usr/etc/passwd')));
  assert.equal(readFileSync(join(root, 'usr/share/dpkg/database/status'), 'utf8'), 'Package: x\n');
  assert.ok(existsSync(join(root, 'usr/share/debconf/cache/config.dat')));
  for (const [p, t] of [
    ['home', 'var/home'],
    ['root', 'var/roothome'],
    ['opt', 'var/opt'],
    ['srv', 'var/srv'],
    ['mnt', 'var/mnt'],
    ['usr/local', '../var/usrlocal'],
    ['media', 'run/media'],
    ['ostree', 'sysroot/ostree'],
  ]) {
    assert.equal(readlinkSync(join(root, p)), t, p);
  }
  assert.ok(lstatSync(join(root, 'sysroot')).isDirectory());
  const conf = readFileSync(join(root, 'usr/lib/tmpfiles.d/apt-ostree-var.conf'), 'utf8');
  assert.match(conf, /^L \/var\/lib\/dpkg - - - - \/usr\/share\/dpkg\/database$/m);
  assert.match(conf, /^L \/var\/cache\/debconf - - - - \/usr\/share\/debconf\/cache$/m);
  assert.match(conf, /^d \/var\/roothome 0700 root root - -$/m);
  assert.match(conf, /^C \/var\/roothome\/\.profile /m);
  assert.match(conf, /^d \/var\/usrlocal\/bin /m);
  assert.doesNotMatch(conf, /x_Packages/);
  for (const d of ['var', 'dev', 'boot']) assert.deepEqual(readdirSync(join(root, d)), [], d);
  assert.equal(lstatSync(join(root, 'tmp')).mode & 0o7777, 0o1777);
  assert.deepEqual(
    treeKernels(root)
      .filter((k) => k.initramfs !== undefined)
      .map((k) => k.version),
    ['0.0.0-placeholder'],
  );
});
