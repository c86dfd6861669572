/**
 * rollback, kargs, cleanup, pin and the sysroot lock, on a sysroot composed
 * by the real CLI from a tiny tree (the operations build no tree, so the
 * Debian base adds nothing here but time).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli, sh, tmpdir } from '../lib/env';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';
import { APT_CACHE_SUBDIR, withSysrootLock } from '../../src/engine/sysroot';

let s: SysrootFixture;
before(async () => {
  s = await makeSysroot({ source: 'mini', kargs: ['root=/dev/vda', 'console=ttyS0'] });
});
after(() => s?.cleanup());

interface DJ {
  checksum: string;
  serial: number;
  pinned: boolean;
  kargs: string[];
}

const cli = (...args: string[]) => runCli(['--sysroot', s.path, ...args]);
function deployments(): DJ[] {
  const r = cli('status', '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { deployments: DJ[] }).deployments;
}
const ids = (ds: DJ[]): string[] => ds.map((d) => `${d.checksum}.${d.serial}`);
function deployDirs(): string[] {
  return readdirSync(join(s.path, 'ostree', 'deploy', 'debian', 'deploy'))
    .filter((n) => !n.endsWith('.origin'))
    .sort();
}
/** The options line of the boot entry of deployment INDEX (title "... (ostree:INDEX)"). */
function entryOptions(index: number): string {
  const dir = join(s.path, 'boot', 'loader', 'entries');
  for (const f of readdirSync(dir)) {
    const text = readFileSync(join(dir, f), 'utf8');
    if (new RegExp(`^title .*\\(ostree:${index}\\)$`, 'm').test(text)) return /^options (.*)$/m.exec(text)?.[1] ?? '';
  }
  throw new Error(`no boot entry for deployment ${index} in ${dir}`);
}

test('rollback with a single deployment is an error; kargs without arguments prints them', () => {
  const r = cli('rollback');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /there is no rollback deployment/);
  const k = cli('kargs');
  assert.equal(k.code, 0, k.stderr);
  assert.equal(k.stdout, 'root=/dev/vda console=ttyS0\n');
});

test('kargs: a change makes a new deployment of the same commit, visible in the boot entry', () => {
  const before = deployments();
  const r = cli('kargs', '--append=quiet', '--replace=console=ttyS0=ttyS1', '--append', 'rd.debug="a b"');
  assert.equal(r.code, 0, r.stderr);
  const after = deployments();
  assert.equal(after.length, 2);
  assert.equal(after[0]!.checksum, before[0]!.checksum, 'same commit');
  assert.notEqual(after[0]!.serial, before[0]!.serial, 'a new deployment');
  assert.deepEqual(ids([after[1]!]), ids(before), 'the previous default is now the rollback');
  assert.deepEqual(after[0]!.kargs, ['root=/dev/vda', 'console=ttyS1', 'quiet', 'rd.debug="a b"']);
  assert.match(entryOptions(0), /^root=\/dev\/vda console=ttyS1 quiet rd\.debug="a b" ostree=\/ostree\/boot\.\d\/debian\//);
  assert.match(entryOptions(1), /^root=\/dev\/vda console=ttyS0 ostree=/);
  assert.equal(cli('kargs').stdout, 'root=/dev/vda console=ttyS1 quiet rd.debug="a b"\n');
  // Back again with --delete.
  const d = cli('kargs', '--delete=quiet', '--delete', 'rd.debug');
  assert.equal(d.code, 0, d.stderr);
  assert.match(entryOptions(0), /^root=\/dev\/vda console=ttyS1 ostree=/);
});

test('kargs: bad syntax and impossible edits are clear errors and deploy nothing; no change exits 77', () => {
  const before = ids(deployments());
  const cases: [string[], RegExp][] = [
    [['--append', 'a b'], /--append: invalid kernel argument "a b"/],
    [['--append', '=x'], /--append: invalid kernel argument "=x"/],
    [['--append', 'x="unbalanced'], /invalid kernel argument/],
    [['--delete', 'nosuch'], /no kernel argument "nosuch"/],
    [['--replace', 'nosuch=1'], /no kernel argument "nosuch"/],
    [['--append', 'ostree=/x'], /OSTree's own/],
  ];
  for (const [args, re] of cases) {
    const r = cli('kargs', ...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  const u = cli('kargs', '--append-if-missing=root=/dev/vda', '--delete-if-present=nosuch', '--unchanged-exit-77');
  assert.equal(u.code, 77, u.stderr);
  assert.match(u.stdout, /unchanged/);
  assert.deepEqual(ids(deployments()), before);
});

test('kargs --editor takes the edited list', () => {
  const dir = tmpdir('kargs-editor');
  const editor = join(dir, 'edit.sh');
  writeFileSync(editor, '#!/bin/sh\nsed -i "1s/.*/root=\\/dev\\/vdb\\nconsole=ttyS0 mitigations=off/" "$1"\n', { mode: 0o755 });
  const e = runCli(['--sysroot', s.path, 'kargs', '--editor'], { env: { EDITOR: editor, VISUAL: '' } });
  assert.equal(e.code, 0, e.stderr);
  assert.equal(cli('kargs').stdout, 'root=/dev/vdb console=ttyS0 mitigations=off\n');
  sh('rm', ['-rf', dir]);
});

test('rollback swaps default and rollback without a new deployment; a second rollback undoes it', () => {
  const before = deployments();
  const dirsBefore = deployDirs();
  assert.equal(before.length, 2);
  const r = cli('rollback');
  assert.equal(r.code, 0, r.stderr);
  const once = deployments();
  assert.deepEqual(ids(once), [ids(before)[1], ids(before)[0]]);
  assert.deepEqual(deployDirs(), dirsBefore, 'no deployment made or removed');
  assert.deepEqual(once[0]!.kargs, before[1]!.kargs);
  assert.equal(entryOptions(0).replace(/ ostree=.*$/, ''), before[1]!.kargs.join(' '));
  const again = cli('rollback');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(ids(deployments()), ids(before));
  assert.equal(entryOptions(0).replace(/ ostree=.*$/, ''), before[0]!.kargs.join(' '));
});

test('pin keeps a deployment through a new one; cleanup removes extras, -r the rollback, -b temp refs, -m the metadata cache, and prunes', () => {
  const start = deployments(); // [A (default), B (rollback)]
  assert.equal(cli('pin', '1').code, 0);
  assert.equal(cli('pin', '1', '--unchanged-exit-77').code, 77);
  assert.equal(cli('pin', '9').code, 1);
  assert.equal(cli('kargs', '--append=x=1').code, 0); // [C, A, B(pinned)]
  let ds = deployments();
  assert.equal(ds.length, 3);
  assert.deepEqual(ids(ds.slice(1)), ids(start));
  assert.ok(ds[2]!.pinned);
  // Nothing to remove: default, rollback, pinned.
  assert.equal(cli('cleanup').code, 0);
  assert.equal(deployments().length, 3);
  assert.equal(cli('pin', '--unpin', '2').code, 0);
  // An orphan commit and a temporary ref, and the APT metadata cache.
  const tree = tmpdir('orphan');
  writeFileSync(join(tree, 'f'), 'orphan\n');
  const orphan = sh('ostree', ['commit', `--repo=${s.repo}`, '--orphan', `--tree=dir=${tree}`]).trim();
  mkdirSync(join(s.repo, 'tmp', 'apt-ostree-layer-left'), { recursive: true });
  const tmpCommit = sh('ostree', [
    'commit',
    `--repo=${s.repo}`,
    '--branch=aptostree/tmp/test',
    `--tree=dir=${tree}`,
    '--add-metadata-string=x=y',
  ]).trim();
  sh('rm', ['-rf', tree]);
  const cache = join(s.path, APT_CACHE_SUBDIR);
  mkdirSync(join(cache, 'lists'), { recursive: true });
  writeFileSync(join(cache, 'lists', 'Packages'), 'x');

  const c = cli('cleanup');
  assert.equal(c.code, 0, c.stderr);
  const three = ids(ds);
  ds = deployments();
  assert.deepEqual(ids(ds), three.slice(0, 2)); // B (no longer pinned, neither default nor rollback) removed
  assert.equal(deployDirs().length, 2);
  assert.throws(() => sh('ostree', ['show', `--repo=${s.repo}`, orphan]), 'orphan commit pruned');
  assert.equal(sh('ostree', ['rev-parse', `--repo=${s.repo}`, 'aptostree/tmp/test']).trim(), tmpCommit);
  assert.ok(existsSync(cache));

  const cb = cli('cleanup', '-b', '-m');
  assert.equal(cb.code, 0, cb.stderr);
  assert.throws(() => sh('ostree', ['rev-parse', `--repo=${s.repo}`, 'aptostree/tmp/test']));
  assert.throws(() => sh('ostree', ['show', `--repo=${s.repo}`, tmpCommit]));
  assert.ok(!existsSync(cache));
  assert.ok(!existsSync(join(s.repo, 'tmp', 'apt-ostree-layer-left')), 'leftover work directory removed by -b');
  assert.equal(deployments().length, 2);

  const cr = cli('cleanup', '--rollback');
  assert.equal(cr.code, 0, cr.stderr);
  assert.deepEqual(ids(deployments()), three.slice(0, 1));
  assert.equal(deployDirs().length, 1);
  assert.equal(cli('rollback').code, 1);
  sh('ostree', ['fsck', `--repo=${s.repo}`]); // throws when the repository is damaged
});

test("the sysroot lock: a second operation is refused while one runs; a dead holder's lock is taken over", async () => {
  await withSysrootLock(s.path, async () => {
    const r = cli('kargs', '--append=busy=1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /another apt-ostree operation is running/);
    assert.match(r.stderr, new RegExp(`pid ${process.pid}`));
    // Re-entrant within one operation.
    await withSysrootLock(s.path, async () => undefined);
  });
  const script = `require(${JSON.stringify(resolve(__dirname, '../../src/engine/sysroot.js'))}).withSysrootLock(${JSON.stringify(s.path)}, () => { process.stdout.write('locked\\n'); return new Promise(() => { setInterval(() => undefined, 1000); }); })`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (b: Buffer) => (b.toString().includes('locked') ? res() : undefined));
      child.on('exit', () => rej(new Error('lock holder exited early')));
    });
    assert.equal(cli('kargs', '--append=busy=1').code, 1);
  } finally {
    child.kill('SIGKILL');
    await new Promise((res) => (child.exitCode !== null || child.signalCode !== null ? res(undefined) : child.once('exit', res)));
  }
  const r = cli('kargs', '--append=after=1');
  assert.equal(r.code, 0, r.stderr);
});
