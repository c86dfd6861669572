import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compareDebianVersions, parseDebianVersion } from '../../src/engine/updates/debversion';
import { diffPackages, formatDiff } from '../../src/engine/updates/pkgdiff';

const VERSIONS = [
  '0',
  '1',
  '1.0',
  '1.0-1',
  '1.0-1~bpo1',
  '1.0~rc1',
  '1.0~rc1-1',
  '1.0a',
  '1.0+b1',
  '1.0.1',
  '1:0.9',
  '2:1.0',
  '1.00',
  '1.0-0',
  '1.0-1.1',
  '1.0-1+deb12u1',
  '1.0-10',
  '1.0-9',
  '2.36-9+deb12u7',
  '2.36-9+deb12u10',
  '252.22-1~deb12u1',
  '252.33-1~deb12u1',
  '3.0.11-1~deb12u2',
  '3.0.15-1~deb12u1',
  '1.2.13.dfsg-1',
  '1:1.2.13.dfsg-1',
  '9.2p1-2+deb12u3',
  '9.2p1-2+deb12u5',
  '1.0~~',
  '1.0~',
  '1.0~a',
  '1.0-a',
  '1.0-A',
  '0:1.0',
  '1.0+',
  '1.0.',
  '1.0~~a',
];

function dpkgCmp(a: string, b: string): number {
  const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
  if (lt) return -1;
  const eq = spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0;
  return eq ? 0 : 1;
}

test('parse epoch, upstream and revision', () => {
  assert.deepEqual(parseDebianVersion('1:2.3-4-5'), { epoch: 1, upstream: '2.3-4', revision: '5' });
  assert.deepEqual(parseDebianVersion('2.3'), { epoch: 0, upstream: '2.3', revision: '' });
});

test('compareDebianVersions agrees with dpkg --compare-versions on every pair', () => {
  const mismatches: string[] = [];
  for (let i = 0; i < VERSIONS.length; i++) {
    for (let j = i + 1; j < VERSIONS.length; j++) {
      const a = VERSIONS[i]!;
      const b = VERSIONS[j]!;
      const ours = Math.sign(compareDebianVersions(a, b));
      const theirs = dpkgCmp(a, b);
      if (ours !== theirs) mismatches.push(`${a} vs ${b}: ours ${ours}, dpkg ${theirs}`);
      assert.equal(Math.sign(compareDebianVersions(b, a)) + ours, 0, `antisymmetry ${a} ${b}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

test('diffPackages classifies added, removed, upgraded, downgraded', () => {
  const from = [
    { name: 'a', version: '1.0-1', arch: 'amd64' },
    { name: 'b', version: '2.0', arch: 'all' },
    { name: 'c', version: '1.0~rc1', arch: 'amd64' },
    { name: 'd', version: '1:0.5', arch: 'amd64' },
    { name: 'same', version: '1', arch: 'amd64' },
  ];
  const to = [
    { name: 'a', version: '1.0-1+deb12u1', arch: 'amd64' },
    { name: 'c', version: '1.0', arch: 'amd64' },
    { name: 'd', version: '2.0', arch: 'amd64' },
    { name: 'e', version: '3', arch: 'amd64' },
    { name: 'same', version: '1', arch: 'amd64' },
  ];
  const d = diffPackages(from, to);
  assert.deepEqual(
    d.added.map((p) => p.name),
    ['e'],
  );
  assert.deepEqual(
    d.removed.map((p) => p.name),
    ['b'],
  );
  assert.deepEqual(
    d.upgraded.map((p) => p.name),
    ['a', 'c'],
  );
  assert.deepEqual(
    d.downgraded.map((p) => `${p.name} ${p.from} ${p.to}`),
    ['d 1:0.5 2.0'],
  );
  const text = formatDiff(d);
  assert.match(text, /Upgraded:\n {2}a:amd64 1\.0-1 -> 1\.0-1\+deb12u1/);
  assert.match(text, /Removed:\n {2}b 2\.0/);
});

test('every listed version is valid for dpkg', () => {
  for (const v of VERSIONS) assert.equal(spawnSync('dpkg', ['--compare-versions', v, 'eq', v]).status, 0, v);
});
