/**
 * Updates from a real remote over loopback HTTP: a sysroot at v1 follows the
 * served repository (v1 -> v2, plus another ref); upgrade --check/--preview,
 * upgrade, db list/diff, deploy version=, rebase, downgrade refusal.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSysroot } from '../../src/engine/sysroot';
import { BASE_REF } from '../lib/base';
import { sh } from '../lib/env';
import { runCliAsync } from '../lib/http-repo';
import { OTHER_REF, serveBase, sysrootAtV1, type Served } from './fixture';

let served: Served;
let sysroot: string;
let other: string;

const cli = (...args: string[]) => runCliAsync(['--sysroot', sysroot, ...args]);

async function deployments(): Promise<{ checksum: string; base: string; refspec?: string; override?: string }[]> {
  const s = await loadSysroot(sysroot);
  return s.deployments.map((d) => ({
    checksum: d.checksum,
    base: d.baseChecksum,
    refspec: d.origin?.refspec,
    override: d.origin?.overrideCommit,
  }));
}

before(async () => {
  served = await serveBase('upd-upgrade');
  other = served.commitLike(OTHER_REF, served.v1, 'other-1');
  sysroot = await sysrootAtV1(served, 'sysroot');
});

after(async () => {
  await served?.close();
});

test('db diff with one deployment and no arguments says there is nothing to compare', async () => {
  const r = await cli('db', 'diff');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no second deployment/);
});

test('upgrade --check shows v2 (version, commit, date) and downloads no content', async () => {
  served.server.resetStats();
  const r = await cli('upgrade', '--check');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /AvailableUpdate:/);
  assert.match(r.stdout, /Version: 2\.0 \(\d{4}-\d\d-\d\dT/);
  assert.ok(r.stdout.includes(`Commit: ${served.v2}`), r.stdout);
  assert.match(r.stdout, /Diff: 2 added|Diff: .*added/);
  assert.ok(!served.server.requests.some((p) => p.endsWith('.filez')), 'no file object fetched');
  assert.ok(served.server.bytes < 64 * 1024, `only metadata: ${served.server.bytes} bytes`);
  assert.ok(existsSync(join(sysroot, 'ostree/repo/state', `${served.v2}.commitpartial`)));
  assert.equal((await deployments()).length, 1, 'nothing deployed');
});

test('upgrade --preview lists the package changes', async () => {
  const r = await cli('upgrade', '--preview');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Added:\n(.*\n)*\s+hello(:amd64)? \d/);
  assert.match(r.stdout, /\s+less(:amd64)? \d/);
});

test('upgrade -C before the content is downloaded fails; --download-only fetches without deploying', async () => {
  const c = await cli('upgrade', '-C');
  assert.equal(c.code, 1);
  assert.match(c.stderr, /is not \(completely\) in the sysroot's repository/);
  assert.match(c.stderr, /run without --cache-only/);
  const d = await cli('upgrade', '--download-only');
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /Downloaded [0-9a-f]{12} \(version 2\.0\); not deployed/);
  assert.ok(!existsSync(join(sysroot, 'ostree/repo/state', `${served.v2}.commitpartial`)));
  assert.equal((await deployments()).length, 1, 'nothing deployed');
});

test('upgrade -C deploys v2 from what was downloaded (no request to the server); a second upgrade finds nothing (exit 77)', async () => {
  served.server.resetStats();
  const r = await cli('upgrade', '-C');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(served.server.requests, [], 'no network with --cache-only');
  assert.match(r.stdout, /Deployed [0-9a-f]{12} \(version 2\.0\)/);
  const ds = await deployments();
  assert.equal(ds.length, 2);
  assert.equal(ds[0]!.base, served.v2);
  assert.equal(ds[0]!.refspec, `origin:${BASE_REF}`);
  assert.equal(ds[1]!.base, served.v1);
  const s = await loadSysroot(sysroot);
  assert.ok(existsSync(join(s.deployments[0]!.deployPath, 'usr/bin/hello')), 'v2 content in the new deployment');
  const again = await cli('upgrade', '--unchanged-exit-77');
  assert.equal(again.code, 77, again.stderr);
  assert.match(again.stdout, /No upgrade available\./);
  assert.equal((await deployments()).length, 2);
});

test('db diff (default: rollback vs default) and db diff --json FROM TO', async () => {
  const r = await cli('db', 'diff');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Added:/);
  assert.match(r.stdout, /hello/);
  const j = await cli('db', 'diff', '--json', served.v1, served.v2);
  assert.equal(j.code, 0, j.stderr);
  const d = JSON.parse(j.stdout) as {
    added: { name: string }[];
    removed: unknown[];
    'ostree-commit-from': string;
    'ostree-commit-to': string;
  };
  assert.deepEqual(d.added.map((p) => p.name).sort(), ['hello', 'less']);
  assert.equal(d['ostree-commit-from'], served.v1);
  assert.equal(d['ostree-commit-to'], served.v2);
  const back = JSON.parse((await cli('db', 'diff', '--json', served.v2, served.v1)).stdout) as { removed: { name: string }[] };
  assert.deepEqual(back.removed.map((p) => p.name).sort(), ['hello', 'less']);
});

test('db list of a revision, of every deployment, and --json', async () => {
  const r = await cli('db', 'list', served.v2);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ostree commit: [0-9a-f]{64} version 2\.0/m);
  assert.match(r.stdout, /^ hello-[^ ]+\.amd64$/m);
  const j = JSON.parse((await cli('db', 'list', '--json')).stdout) as { checksum: string; packages: { name: string; version: string }[] }[];
  assert.equal(j.length, 2);
  assert.ok(j[0]!.packages.some((p) => p.name === 'hello'));
  assert.ok(!j[1]!.packages.some((p) => p.name === 'hello'));
  assert.ok(j[0]!.packages.some((p) => p.name === 'dpkg' && /^\d/.test(p.version)));
  const bad = await cli('db', 'list', 'no/such/ref');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown revision "no\/such\/ref"/);
});

test('deploy version=1.0 goes back to v1 and pins it in the origin', async () => {
  const r = await cli('deploy', 'version=1.0');
  assert.equal(r.code, 0, r.stderr);
  const ds = await deployments();
  assert.equal(ds[0]!.base, served.v1);
  assert.equal(ds[0]!.override, served.v1);
  const s = await loadSysroot(sysroot);
  assert.match(readFileSync(s.deployments[0]!.originPath, 'utf8'), new RegExp(`override-commit=${served.v1}`));
  // upgrade drops the pin and returns to the newest
  const u = await cli('upgrade');
  assert.equal(u.code, 0, u.stderr);
  const after = await deployments();
  assert.equal(after[0]!.base, served.v2);
  assert.equal(after[0]!.override, undefined);
});

test('deploy of unknown revisions fails clearly and deploys nothing', async () => {
  const before = await deployments();
  const v = await cli('deploy', 'version=9.9');
  assert.equal(v.code, 1);
  assert.match(v.stderr, /version 9\.9 was not found in the history of origin:/);
  const c = await cli('deploy', '0'.repeat(64));
  assert.equal(c.code, 1);
  assert.match(c.stderr, /not found on the remote "origin"|Checksum 0{64} not found in origin:/);
  const bad = await cli('deploy', 'HEAD~1');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /is not a revision/);
  assert.deepEqual(await deployments(), before);
});

test('rebase to another ref of the remote, and an unknown ref fails', async () => {
  const before = await deployments();
  const bad = await cli('rebase', 'origin:debian/no/such-ref');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ref "debian\/no\/such-ref" was not found on the remote "origin"/);
  assert.deepEqual(await deployments(), before);
  const r = await cli('rebase', OTHER_REF);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Rebased to origin:debian\/bookworm\/test-other/);
  const ds = await deployments();
  assert.equal(ds[0]!.base, other);
  assert.equal(ds[0]!.refspec, `origin:${OTHER_REF}`);
});

test('a downgrade is refused without --allow-downgrade', async () => {
  // The remote's ref moves back: a new commit older than the current base would be a
  // forward commit; instead rebase back to the main ref and make the server's ref point to v1.
  const r0 = await cli('rebase', BASE_REF);
  assert.equal(r0.code, 0, r0.stderr);
  assert.equal((await deployments())[0]!.base, served.v2);
  sh('ostree', ['refs', `--repo=${served.repo}`, '--force', `--create=${BASE_REF}`, served.v1]);
  served.summary();
  const before = await deployments();
  const check = await cli('upgrade', '--check', '--unchanged-exit-77');
  assert.equal(check.code, 77, check.stdout + check.stderr);
  assert.match(check.stdout, /downgrade/);
  const r = await cli('upgrade');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /older than the current base .* refusing to downgrade; nothing was deployed/);
  assert.match(r.stderr, /--allow-downgrade/);
  assert.deepEqual(await deployments(), before);
  const ok = await cli('upgrade', '--allow-downgrade');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await deployments())[0]!.base, served.v1);
  sh('ostree', ['refs', `--repo=${served.repo}`, '--force', `--create=${BASE_REF}`, served.v2]);
  served.summary();
});
