/**
 * compose sysroot from the composed Debian base, then status (human, --json),
 * checked against the sysroot on disk and `ostree admin status`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, sh, tmpdir, removeTree } from '../lib/env';
import { makeSysroot, commitMiniTree, type SysrootFixture } from '../lib/sysroot';
import { listDeployments } from '../../src/engine/ostree/native';

let s: SysrootFixture;

before(async () => {
  s = await makeSysroot({ kargs: ['root=/dev/vda', 'console=ttyS0'], remote: 'origin=http://127.0.0.1:9/repo' });
});
after(() => s?.cleanup());

interface DJ {
  id: string;
  osname: string;
  serial: number;
  checksum: string;
  'base-checksum'?: string;
  origin: string | null;
  version: string | null;
  timestamp: number;
  booted: boolean;
  staged: boolean;
  pinned: boolean;
  'requested-packages': string[];
  packages: string[];
  kargs: string[];
  'base-commit-meta': Record<string, unknown>;
  [k: string]: unknown;
}

function statusJson(path: string): { deployments: DJ[]; transaction: unknown } {
  const r = runCli(['--sysroot', path, 'status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { deployments: DJ[]; transaction: unknown };
}

test('compose sysroot deploys REF with its origin file, kernel arguments and remote', () => {
  const deployDir = join(s.path, 'ostree', 'deploy', 'debian', 'deploy');
  const entries = readdirSync(deployDir);
  assert.ok(entries.includes(`${s.checksum}.0`), entries.join(' '));
  const origin = readFileSync(join(deployDir, `${s.checksum}.0.origin`), 'utf8');
  assert.match(origin, new RegExp(`^\\[origin\\]\\nrefspec=origin:${s.ref}$`, 'm'));
  // The deployment is the Debian base: its dpkg database is there.
  assert.ok(
    existsSync(join(deployDir, `${s.checksum}.0`, 'usr', 'share', 'dpkg', 'database', 'status')) ||
      existsSync(join(deployDir, `${s.checksum}.0`, 'usr', 'bin', 'dpkg')),
  );
  const config = readFileSync(join(s.repo, 'config'), 'utf8');
  assert.match(config, /\[remote "origin"\]\nurl=http:\/\/127\.0\.0\.1:9\/repo/);
  assert.equal(sh('ostree', ['rev-parse', `--repo=${s.repo}`, `origin:${s.ref}`]).trim(), s.checksum);
  const bootEntries = readdirSync(join(s.path, 'boot', 'loader', 'entries'));
  assert.equal(bootEntries.length, 1);
  const entry = readFileSync(join(s.path, 'boot', 'loader', 'entries', bootEntries[0]!), 'utf8');
  assert.match(entry, /^options root=\/dev\/vda console=ttyS0 ostree=/m);
});

test("status --json has rpm-ostree's fields, nothing booted on a directory sysroot", () => {
  const j = statusJson(s.path);
  assert.equal(j.transaction, null);
  assert.equal(j.deployments.length, 1);
  const d = j.deployments[0]!;
  for (const k of [
    'id',
    'osname',
    'serial',
    'checksum',
    'origin',
    'version',
    'timestamp',
    'booted',
    'staged',
    'pinned',
    'requested-packages',
    'requested-local-packages',
    'packages',
    'base-removals',
    'requested-base-removals',
    'base-local-replacements',
    'requested-base-local-replacements',
    'regenerate-initramfs',
    'initramfs-args',
  ]) {
    assert.ok(k in d, `missing ${k}`);
  }
  assert.equal(d.id, `debian-${s.checksum}.0`);
  assert.equal(d.osname, 'debian');
  assert.equal(d.serial, 0);
  assert.equal(d.checksum, s.checksum);
  assert.ok(!('base-checksum' in d), 'base-checksum only on layered deployments');
  assert.equal(d.origin, `origin:${s.ref}`);
  assert.equal(d.version, '1.0');
  assert.equal(d.booted, false);
  assert.equal(d.staged, false);
  assert.equal(d.pinned, false);
  assert.deepEqual(d['requested-packages'], []);
  assert.deepEqual(d.packages, []);
  assert.deepEqual(d.kargs, ['root=/dev/vda', 'console=ttyS0']);
  const date = /^Date:\s+(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) \+0000$/m.exec(sh('ostree', ['show', `--repo=${s.repo}`, s.checksum]));
  assert.ok(date, 'ostree show prints the date');
  assert.equal(d.timestamp, Date.parse(`${date[1]}T${date[2]}Z`) / 1000);
  assert.equal(d['base-commit-meta'].version, '1.0');
  assert.equal(typeof d['base-commit-meta']['aptostree.suite'], 'string');
  // The package list is `db list`'s; status leaves it out to stay readable.
  assert.equal(d['base-commit-meta']['aptostree.packages'], undefined);
});

test('status (human): deployment, marks, origin refspec, version, short checksum; -v full', () => {
  const r = runCli(['--sysroot', s.path, 'status']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^State: idle\n(.*\n)*Deployments:\n/);
  assert.match(r.stdout, new RegExp(`^  origin:${s.ref} \\(default\\)$`, 'm'));
  assert.doesNotMatch(r.stdout, /●/);
  assert.match(r.stdout, /Version: 1\.0 \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)/);
  assert.match(r.stdout, new RegExp(`Commit: ${s.checksum.slice(0, 10)}$`, 'm'));
  const v = runCli(['--sysroot', s.path, 'status', '-v']);
  assert.match(v.stdout, new RegExp(`Commit: ${s.checksum}$`, 'm'));
  // --booted on a sysroot that is not booted: nothing.
  const b = runCli(['--sysroot', s.path, 'status', '--booted', '--json']);
  assert.deepEqual((JSON.parse(b.stdout) as { deployments: unknown[] }).deployments, []);
  const env = runCli(['status', '--json'], { env: { APT_OSTREE_SYSROOT: s.path } });
  assert.equal(env.code, 0, env.stderr);
});

test("the addon's listDeployments agrees with `ostree admin status`", () => {
  // A second deployment (same commit, other kargs) so the order matters.
  const r = runCli(['--sysroot', s.path, 'kargs', '--append=quiet']);
  assert.equal(r.code, 0, r.stderr);
  const text = sh('ostree', ['admin', 'status', `--sysroot=${s.path}`]);
  const fromCli = [...text.matchAll(/^[* ] (\S+) ([0-9a-f]{64})\.(\d+)/gm)].map((m) => `${m[1]} ${m[2]}.${m[3]}`);
  const ds = listDeployments(s.path);
  assert.deepEqual(
    ds.map((d) => `${d.osname} ${d.csum}.${d.deployserial}`),
    fromCli,
  );
  assert.equal(ds.length, 2);
  assert.deepEqual(
    ds.map((d) => d.index),
    [0, 1],
  );
  assert.ok(ds.every((d) => !d.booted && !d.staged && !d.pinned));
  assert.match(ds[0]!.options, /^root=\/dev\/vda console=ttyS0 quiet ostree=/);
  assert.equal(ds[0]!.originPath, join(s.path, 'ostree', 'deploy', 'debian', 'deploy', `${ds[0]!.csum}.${ds[0]!.deployserial}.origin`));
  assert.ok(existsSync(ds[0]!.originPath));
  const j = statusJson(s.path);
  assert.deepEqual(
    j.deployments.map((d) => d.serial),
    ds.map((d) => d.deployserial),
  );
});

test('--sysroot at something that is not a sysroot: a clear error, exit 1', () => {
  const dir = tmpdir('not-sysroot');
  try {
    for (const p of [dir, join(dir, 'missing')]) {
      const r = runCli(['--sysroot', p, 'status']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is not an OSTree sysroot/);
      assert.doesNotMatch(r.stderr, /\n\s+at /); // no stack trace
    }
    const r = runCli(['--sysroot', dir, 'rollback']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not an OSTree sysroot/);
  } finally {
    removeTree(dir);
  }
});

test('compose sysroot refuses bad input and writes nothing', () => {
  const dir = tmpdir('compose-sysroot-bad');
  try {
    const repo = join(dir, 'repo');
    commitMiniTree(repo, '1.0');
    const target = join(dir, 'target');
    const cases: [string[], RegExp][] = [
      [['--repo', repo, '--ref', 'no/such/ref', target], /no ref "no\/such\/ref"/],
      [['--repo', join(dir, 'nope'), '--ref', 'x', target], /is not an OSTree repository/],
      [['--repo', repo, '--ref', 'debian/12/x86_64/mini', '--karg', 'a b', target], /invalid kernel argument "a b"/],
      [['--repo', repo, '--ref', 'debian/12/x86_64/mini', '--remote', 'nourl', target], /--remote "nourl" is not NAME=URL/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(['compose', 'sysroot', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, re);
      assert.ok(!existsSync(target), `${target} was created by ${args.join(' ')}`);
    }
    const file = join(dir, 'afile');
    writeFileSync(file, 'x');
    const r = runCli(['compose', 'sysroot', '--repo', file, '--ref', 'x', target]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not an OSTree repository/);
    const full = join(dir, 'full');
    sh('mkdir', ['-p', join(full, 'something')]);
    const r2 = runCli(['compose', 'sysroot', '--repo', repo, '--ref', 'debian/12/x86_64/mini', full]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /is not empty/);
  } finally {
    removeTree(dir);
  }
});
