/**
 * `apt-ostree compose image`, through the real CLI, on tiny trees committed
 * with the real `ostree` (a non-booting stand-in kernel file is enough for
 * OSTree to deploy): the image is an ext4 filesystem (read back with
 * debugfs and dumpe2fs) holding the sysroot and its BLS entry with the
 * default and the given kernel arguments; and each bad input is a clear error
 * that leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, sh, tmpdir, removeTree } from '../lib/env';
import { commitMiniTree, MINI_KVER, MINI_REF } from '../lib/sysroot';
import { imageKargs, parseSize } from '../../src/engine/compose/image';
import { PLACEHOLDER_KVER, writePlaceholderKernel } from '../../src/engine/compose/layout';

const NOKERNEL_REF = 'test/no-kernel';
const PLACEHOLDER_REF = 'test/placeholder-kernel';

let dir: string;
let repo: string;

function debugfs(image: string, req: string): string {
  return sh('debugfs', ['-R', req, image]);
}

/** Nothing but `keep` in the output directory (no OUT.tmp, no scratch sysroot). */
function assertClean(keep: string[]): void {
  const left = readdirSync(dir).filter((n) => n !== 'repo' && !keep.includes(n));
  assert.deepEqual(left, [], `left behind in ${dir}: ${left.join(', ')}`);
}

describe('compose image', () => {
  before(() => {
    dir = tmpdir('compose-image');
    repo = join(dir, 'repo');
    commitMiniTree(repo, '1.0');
    // A tree with no kernel at all, and one with the placeholder of "kernel: placeholder".
    for (const [ref, placeholder] of [
      [NOKERNEL_REF, false],
      [PLACEHOLDER_REF, true],
    ] as const) {
      const tree = join(dir, `tree-${placeholder}`);
      mkdirSync(join(tree, 'usr', 'etc'), { recursive: true });
      writeFileSync(join(tree, 'usr', 'etc', 'hostname'), 'x\n');
      if (placeholder) writePlaceholderKernel(tree);
      sh('ostree', ['commit', `--repo=${repo}`, `--branch=${ref}`, `--tree=dir=${tree}`]);
      removeTree(tree);
    }
  });
  after(() => removeTree(dir));

  it('parses sizes and builds the kernel arguments', () => {
    assert.equal(parseSize('4G'), 4 * 1024 ** 3);
    assert.equal(parseSize('512M'), 512 * 1024 ** 2);
    assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseSize(String(64 * 1024 ** 2)), 64 * 1024 ** 2);
    assert.throws(() => parseSize('big'), /is not a size/);
    assert.throws(() => parseSize('1K'), /too small/);
    assert.deepEqual(imageKargs('U', []), ['root=UUID=U', 'rw', 'console=ttyS0']);
    assert.deepEqual(imageKargs('U', ['foo=bar']), ['root=UUID=U', 'rw', 'console=ttyS0', 'foo=bar']);
    assert.deepEqual(imageKargs('U', ['root=/dev/sda2', 'console=tty0']), ['rw', 'root=/dev/sda2', 'console=tty0']);
  });

  it('writes an ext4 image holding the deployed sysroot and its boot entry', () => {
    const out = join(dir, 'disk.img');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, '--karg', 'quiet', '--karg', 'foo=bar', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Wrote .*disk\.img/);
    assert.ok(statSync(out).size >= 1024 ** 3, 'the default size leaves room for updates');
    const uuid = /^Filesystem UUID:\s+(\S+)/m.exec(sh('dumpe2fs', ['-h', out]))?.[1];
    assert.ok(uuid, 'an ext4 filesystem with a UUID');
    const entries = debugfs(out, 'ls -p /boot/loader/entries')
      .split('\n')
      .map((l) => l.split('/')[5])
      .filter((n) => n?.endsWith('.conf'));
    assert.equal(entries.length, 1);
    const entry = debugfs(out, `cat /boot/loader/entries/${entries[0]}`);
    const options = /^options (.*)$/m.exec(entry)?.[1] ?? '';
    assert.match(options, new RegExp(`^root=UUID=${uuid} rw console=ttyS0 quiet foo=bar ostree=/ostree/boot\\.\\d/debian/`));
    const linux = /^linux (.*)$/m.exec(entry)?.[1] ?? '';
    assert.match(linux, new RegExp(`vmlinuz-${MINI_KVER}$`));
    const kernel = join(dir, 'vmlinuz');
    debugfs(out, `dump /boot${linux} ${kernel}`);
    assert.equal(readFileSync(kernel, 'utf8'), 'placeholder kernel 1.0\n');
    removeTree(kernel);
    // The deployment, its origin, the repository.
    const deployDir = debugfs(out, 'ls -p /ostree/deploy/debian/deploy');
    assert.match(deployDir, /\.0\.origin\//);
    assert.match(debugfs(out, 'ls -p /ostree/repo'), /\/objects\//);
    assertClean(['disk.img']);
  });

  it('refuses an existing file without --force, and replaces it with --force', () => {
    const out = join(dir, 'exists.img');
    writeFileSync(out, 'precious\n');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exists\.img already exists/);
    assert.match(r.stderr, /--force/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(readFileSync(out, 'utf8'), 'precious\n', 'the file is untouched');
    const f = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, '--size', '512M', '--force', out]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(statSync(out).size, 512 * 1024 ** 2);
    assertClean(['disk.img', 'exists.img']);
  });

  for (const [what, ref] of [
    ['no kernel', NOKERNEL_REF],
    ['only the placeholder kernel', PLACEHOLDER_REF],
  ] as const) {
    it(`refuses a ref with ${what}`, () => {
      const out = join(dir, 'nokernel.img');
      const r = runCli(['compose', 'image', '--repo', repo, '--ref', ref, out]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`${ref.replace('/', '\\/')} \\([0-9a-f]{10}\\) has no kernel to boot`));
      assert.match(r.stderr, /hint: .*linux-image-amd64/);
      assert.ok(!existsSync(out));
      assertClean(['disk.img', 'exists.img']);
    });
  }
  it('the placeholder kernel is the one of layout.ts', () => {
    assert.equal(PLACEHOLDER_KVER, '0.0.0-placeholder');
  });

  it('refuses a size too small for the tree, leaving nothing', () => {
    const out = join(dir, 'small.img');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, '--size', '20M', out]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /--size 20 MiB is too small for debian\/12\/x86_64\/mini: the deployed sysroot takes .*, the image needs at least/,
    );
    assert.match(r.stderr, /hint: give --size/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.tmp`));
    assertClean(['disk.img', 'exists.img']);
  });

  it('refuses a missing ref and a missing repository', () => {
    const out = join(dir, 'x.img');
    const a = runCli(['compose', 'image', '--repo', repo, '--ref', 'no/such/ref', out]);
    assert.notEqual(a.code, 0);
    assert.match(a.stderr, /no ref "no\/such\/ref"/);
    const b = runCli(['compose', 'image', '--repo', join(dir, 'nope'), '--ref', MINI_REF, out]);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /is not an OSTree repository/);
    const c = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, '--size', 'huge', out]);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /--size "huge" is not a size/);
    assertClean(['disk.img', 'exists.img']);
  });
});
