/**
 * Layered packages follow the base: a sysroot at v1 with fx-app (and its
 * dependency fx-lib) layered from a local fixture archive; upgrade to v2,
 * deploy version=1.0 and rebase each re-apply the layering on the new base.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSysroot } from '../../src/engine/sysroot';
import { buildArchive, layeringFixtures } from '../lib/archive';
import { removeTree, sh } from '../lib/env';
import { runCliAsync } from '../lib/http-repo';
import { OTHER_REF, serveBase, sysrootAtV1, type Served } from './fixture';

let served: Served;
let sysroot: string;
let other: string;
let archiveDir: string;
let archiveServer: { close(): Promise<void> } | undefined;

const cli = (...args: string[]) => runCliAsync(['--sysroot', sysroot, ...args]);

async function top(): Promise<{ checksum: string; base: string; root: string; requested: string[]; layered: boolean }> {
  const d = (await loadSysroot(sysroot)).deployments[0]!;
  return {
    checksum: d.checksum,
    base: d.baseChecksum,
    root: d.deployPath,
    requested: d.origin?.requestedPackages ?? [],
    layered: d.checksum !== d.baseChecksum,
  };
}

async function packagesOf(rev: string): Promise<string[]> {
  const r = await cli('db', 'list', '--json', rev);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { packages: { name: string }[] }[])[0]!.packages.map((p) => p.name);
}

before(async () => {
  served = await serveBase('upd-layered');
  other = served.commitLike(OTHER_REF, served.v1, 'other-1');
  const archive = buildArchive(
    layeringFixtures().filter((p) => ['fx-lib', 'fx-app'].includes(p.name)),
    'upd-archive',
  );
  archiveDir = archive.dir;
  sysroot = await sysrootAtV1(served, 'sysroot');
  const d = (await loadSysroot(sysroot)).deployments[0]!;
  const list = join(d.deployPath, 'etc/apt/sources.list.d');
  mkdirSync(list, { recursive: true });
  const { server, source } = await archive.serve();
  archiveServer = server;
  writeFileSync(join(list, 'apt-ostree-test-fixtures.list'), `${source}\n`);
  const r = await cli('install', 'fx-app');
  assert.equal(r.code, 0, `install fx-app: ${r.stdout}\n${r.stderr}`);
});

after(async () => {
  await served?.close();
  await archiveServer?.close();
  if (archiveDir) removeTree(archiveDir);
});

test('the starting point: v1 with fx-app layered', async () => {
  const t = await top();
  assert.equal(t.base, served.v1);
  assert.ok(t.layered);
  assert.deepEqual(t.requested, ['fx-app']);
  assert.ok(existsSync(join(t.root, 'usr/bin/fx-app')));
});

test('upgrade --preview shows the base diff; upgrade reaches v2 with fx-app layered again on it', async () => {
  const p = await cli('upgrade', '--preview');
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /Version: 2\.0/);
  assert.match(p.stdout, /hello/);
  const before = await top();
  const r = await cli('upgrade');
  assert.equal(r.code, 0, r.stderr);
  const t = await top();
  assert.equal(t.base, served.v2, 'new base');
  assert.ok(t.layered, 'a client commit on top of v2');
  assert.notEqual(t.checksum, before.checksum);
  assert.deepEqual(t.requested, ['fx-app']);
  assert.ok(existsSync(join(t.root, 'usr/bin/fx-app')), 'layered package still there');
  assert.ok(existsSync(join(t.root, 'usr/bin/hello')), 'v2 content there');
  assert.equal(readFileSync(join(t.root, 'usr/share/fx-lib/lib.txt'), 'utf8'), 'fx-lib 1.0\n');
  const parent = sh('ostree', ['rev-parse', `--repo=${sysroot}/ostree/repo`, `${t.checksum}^`]).trim();
  assert.equal(parent, served.v2, 'the layered commit is built on v2');
  const pk = await packagesOf(t.checksum);
  for (const n of ['fx-app', 'fx-lib', 'hello', 'less', 'dpkg'])
    assert.ok(pk.includes(n), `${n} in the package list of the new deployment`);
  const diff = await cli('db', 'diff', '--json');
  const d = JSON.parse(diff.stdout) as { added: { name: string }[] };
  assert.deepEqual(d.added.map((x) => x.name).sort(), ['hello', 'less']);
});

test('deploy version=1.0 and rebase keep the layered packages', async () => {
  const r = await cli('deploy', 'version=1.0');
  assert.equal(r.code, 0, r.stderr);
  let t = await top();
  assert.equal(t.base, served.v1);
  assert.ok(existsSync(join(t.root, 'usr/bin/fx-app')));
  assert.ok(!existsSync(join(t.root, 'usr/bin/hello')));
  const rb = await cli('rebase', OTHER_REF);
  assert.equal(rb.code, 0, rb.stderr);
  t = await top();
  assert.equal(t.base, other);
  assert.deepEqual(t.requested, ['fx-app']);
  assert.ok(existsSync(join(t.root, 'usr/bin/fx-app')));
  sh('ostree', ['fsck', `--repo=${sysroot}/ostree/repo`]);
});
