/**
 * Deployment semantics as rpm-ostree defines them, against a served remote:
 * deploy refuses a commit outside the history of the origin's ref (unless
 * --skip-branch-check), deploy of the current base is "No change." (exit 77
 * with --unchanged-exit-77), and a removal of a base package that a new base
 * no longer has stays in the origin, inactive, instead of blocking the update.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadSysroot } from '../../src/engine/sysroot';
import { BASE_REF } from '../lib/base';
import { sh } from '../lib/env';
import { runCliAsync } from '../lib/http-repo';
import { OTHER_REF, serveBase, sysrootAtV1, type Served } from './fixture';

let served: Served;
let sysroot: string;
let other: string;

const cli = (...args: string[]) => runCliAsync(['--sysroot', sysroot, ...args]);

async function ids(): Promise<string[]> {
  return (await loadSysroot(sysroot)).deployments.map((d) => `${d.checksum}.${d.serial}`);
}

interface StatusDeployment {
  checksum: string;
  'base-checksum'?: string;
  'requested-base-removals': string[];
  'base-removals': string[];
}

/** The lines of the first deployment in `status` text. */
function firstDeployment(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^[ ●] \S/.test(l));
  const next = lines.findIndex((l, i) => i > start && /^[ ●] \S/.test(l));
  return lines.slice(start, next < 0 ? undefined : next).join('\n');
}

before(async () => {
  served = await serveBase('upd-semantics');
  // A commit of another ref, with no parent: not in the history of BASE_REF.
  other = served.commitLike(OTHER_REF, served.v1, 'other-1');
  sysroot = await sysrootAtV1(served, 'sysroot');
});

after(async () => {
  await served?.close();
});

test('deploy of the commit already deployed says "No change." and exits 77 with --unchanged-exit-77, deploying nothing', async () => {
  const before0 = await ids();
  const r = await cli('deploy', '--unchanged-exit-77', served.v1);
  assert.equal(r.code, 77, r.stdout + r.stderr);
  assert.match(r.stdout, /^No change\.$/m);
  assert.deepEqual(await ids(), before0);
});

test('deploy of a commit outside the history of the origin ref is refused; --skip-branch-check deploys it', async () => {
  const before0 = await ids();
  const r = await cli('deploy', other);
  assert.equal(r.code, 1, r.stdout);
  assert.ok(r.stderr.includes(`Checksum ${other} not found in origin:${BASE_REF}`), r.stderr);
  assert.match(r.stderr, /rebase[\s\S]*--skip-branch-check/);
  assert.deepEqual(await ids(), before0, 'nothing deployed');
  const ok = await cli('deploy', '--skip-branch-check', other);
  assert.equal(ok.code, 0, ok.stderr);
  const d = (await loadSysroot(sysroot)).deployments[0]!;
  assert.equal(d.baseChecksum, other);
  assert.equal(d.origin?.overrideCommit, other);
  assert.equal(d.origin?.refspec, `origin:${BASE_REF}`);
});

test('a commit of the history (v2, then v1 again) deploys without --skip-branch-check', async () => {
  const r = await cli('deploy', served.v2);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await loadSysroot(sysroot)).deployments[0]!.baseChecksum, served.v2);
});

test('an override remove of a package the new base does not have stays in the origin, inactive, and does not block the update', async () => {
  // At v2 (which has hello): remove it.
  const rm = await cli('override', 'remove', 'hello');
  assert.equal(rm.code, 0, rm.stderr);
  let d = (await loadSysroot(sysroot)).deployments[0]!;
  assert.notEqual(d.checksum, d.baseChecksum);
  // Back to v1, which has no hello.
  const r = await cli('deploy', served.v1);
  assert.equal(r.code, 0, r.stderr);
  d = (await loadSysroot(sysroot)).deployments[0]!;
  assert.equal(d.baseChecksum, served.v1);
  assert.equal(
    sh('ostree', ['rev-parse', `--repo=${sysroot}/ostree/repo`, 'aptostree/base/0']).trim(),
    served.v1,
    'a ref keeps the base of the layered deployment from being pruned',
  );
  assert.match(readFileSync(d.originPath, 'utf8'), /^remove=hello;$/m, 'the removal stays requested');
  const st = await cli('status', '--json');
  assert.equal(st.code, 0, st.stderr);
  const j = (JSON.parse(st.stdout) as { deployments: StatusDeployment[] }).deployments[0]!;
  assert.deepEqual(j['requested-base-removals'], ['hello']);
  assert.deepEqual(j['base-removals'], [], 'not active on this base');
  const human = await cli('status');
  assert.match(human.stdout, /InactiveBaseRemovals: hello/);
  assert.doesNotMatch(firstDeployment(human.stdout), /RemovedBasePackages/);
  // A new removal of a package the base does not have is still refused, naming it.
  const bad = await cli('override', 'remove', 'less');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /less is not a package of the base/);
  // And back to v2: the removal is active again.
  const up = await cli('upgrade');
  assert.equal(up.code, 0, up.stderr);
  const j2 = (JSON.parse((await cli('status', '--json')).stdout) as { deployments: StatusDeployment[] }).deployments[0]!;
  assert.deepEqual(j2['base-removals'], ['hello']);
});
