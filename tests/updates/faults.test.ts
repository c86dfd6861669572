/**
 * Faults of an update from a remote, each with a clear error and nothing
 * deployed: the server dying in the middle of a pull (the retry reuses what
 * was fetched), corrupt objects, signatures that do not verify; and static
 * deltas being used when the remote has them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSysroot } from '../../src/engine/sysroot';
import { BASE_REF } from '../lib/base';
import { sh } from '../lib/env';
import { runCliAsync } from '../lib/http-repo';
import { changedObjectBytes, killGpgAgent, makeGpgKey, serveBase, sysrootAtV1, type Gpg, type Served } from './fixture';

let served: Served;
let good: Gpg;
let bad: Gpg;

const SIGNED_GOOD = 'debian/bookworm/signed-good';
const SIGNED_BAD = 'debian/bookworm/signed-bad';
const UNSIGNED = 'debian/bookworm/unsigned';

const cli = (sysroot: string, ...args: string[]) => runCliAsync(['--sysroot', sysroot, ...args]);

async function bases(sysroot: string): Promise<string[]> {
  return (await loadSysroot(sysroot)).deployments.map((d) => `${d.checksum}.${d.serial}`);
}

before(async () => {
  served = await serveBase('upd-faults');
  good = makeGpgKey(served.dir, 'good');
  bad = makeGpgKey(served.dir, 'bad');
  served.commitLike(SIGNED_GOOD, served.v2, '2.0-good', { parent: served.v1, gpg: good });
  served.commitLike(SIGNED_BAD, served.v2, '2.0-bad', { parent: served.v1, gpg: bad });
  served.commitLike(UNSIGNED, served.v2, '2.0-unsigned', { parent: served.v1 });
});

after(async () => {
  if (good) killGpgAgent(good);
  if (bad) killGpgAgent(bad);
  await served?.close();
});

test('the server killed in the middle of a pull: clear error, nothing deployed; the retry reuses what was fetched', async () => {
  const sysroot = await sysrootAtV1(served, 'interrupted');
  const changed = changedObjectBytes(served.repo, served.v1, served.v2);
  const before = await bases(sysroot);
  served.server.resetStats();
  served.server.dieAfterBytes(Math.floor(changed.bytes * 0.6));
  let r;
  try {
    r = await cli(sysroot, 'upgrade');
  } finally {
    await served.server.restart();
  }
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /could not download .* from the remote "origin" \(http:\/\/127\.0\.0\.1:\d+\); nothing was deployed/);
  assert.match(r.stderr, /objects already downloaded are kept and reused/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(await bases(sysroot), before);
  const firstBytes = served.server.bytes;
  served.server.resetStats();
  const again = await cli(sysroot, 'upgrade');
  assert.equal(again.code, 0, again.stderr);
  const secondBytes = served.server.bytes;
  const after = await loadSysroot(sysroot);
  assert.equal(after.deployments[0]!.baseChecksum, served.v2);
  process.stdout.write(`# changed objects ${changed.bytes} B; first (killed) pull ${firstBytes} B; retry ${secondBytes} B\n`);
  assert.ok(
    secondBytes < changed.bytes * 0.8,
    `retry fetched ${secondBytes} B of ${changed.bytes} B: what was fetched before was not reused`,
  );
  sh('ostree', ['fsck', `--repo=${after.repoPath}`]);
});

test('corrupt objects served: clear error, nothing deployed; fine once the server is repaired', async () => {
  const sysroot = await sysrootAtV1(served, 'corrupt');
  const before = await bases(sysroot);
  served.server.corrupt(/\.filez$/);
  try {
    const r = await cli(sysroot, 'upgrade');
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /the remote "origin" \(http:[^)]+\) served corrupt objects for debian\/bookworm\/test-base \(commit [0-9a-f]{64}\); nothing was deployed/,
    );
    assert.deepEqual(await bases(sysroot), before);
  } finally {
    served.server.corrupt(undefined);
  }
  const ok = await cli(sysroot, 'upgrade');
  assert.equal(ok.code, 0, ok.stderr);
  sh('ostree', ['fsck', `--repo=${sysroot}/ostree/repo`]);
});

test('a remote that requires GPG signatures refuses unsigned and wrongly signed commits', async () => {
  const sysroot = await sysrootAtV1(served, 'signed', ['--gpg-import', good.publicKeyFile]);
  const before = await bases(sysroot);
  const unsigned = await cli(sysroot, 'rebase', UNSIGNED);
  assert.equal(unsigned.code, 1, unsigned.stdout);
  assert.match(
    unsigned.stderr,
    /the signature of debian\/bookworm\/unsigned from the remote "origin" does not verify; nothing was deployed/,
  );
  assert.match(unsigned.stderr, /no signatures found/);
  const wrong = await cli(sysroot, 'rebase', SIGNED_BAD);
  assert.equal(wrong.code, 1, wrong.stdout);
  assert.match(wrong.stderr, /the signature of debian\/bookworm\/signed-bad from the remote "origin" does not verify/);
  assert.match(wrong.stderr, /public key not found|[Nn]o valid signature/);
  const check = await cli(sysroot, 'upgrade', '--check');
  assert.equal(check.code, 1, 'the unsigned v2 of the base ref does not verify either');
  assert.match(check.stderr, /does not verify/);
  assert.deepEqual(await bases(sysroot), before);
  const ok = await cli(sysroot, 'rebase', SIGNED_GOOD);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await loadSysroot(sysroot)).deployments[0]!.origin?.refspec, `origin:${SIGNED_GOOD}`);
});

test('upgrade uses a static delta when the remote has one', async () => {
  const sysroot = await sysrootAtV1(served, 'delta');
  sh('ostree', ['static-delta', 'generate', `--repo=${served.repo}`, `--from=${served.v1}`, `--to=${served.v2}`]);
  served.summary();
  served.server.resetStats();
  const r = await cli(sysroot, 'upgrade');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(
    served.server.requests.some((p) => p.startsWith('/deltas/')),
    `no delta fetched: ${served.server.requests.slice(0, 20).join(' ')}`,
  );
  assert.ok(!served.server.requests.some((p) => p.endsWith('.filez')), 'no loose file object fetched');
  assert.equal((await loadSysroot(sysroot)).deployments[0]!.baseChecksum, served.v2);
  void BASE_REF;
});
