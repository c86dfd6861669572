/**
 * Automatic updates (AutomaticUpdatePolicy / AutomaticUpdateScope) against a
 * loopback HTTP remote (an archive repo served from this process) with newer
 * bases: `status` before and after `check` and `stage`; `security` scope with
 * a base that carries security fixes and one that does not; an unreachable
 * update server; the policy `none`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AutomaticSettings, automaticConfigFrom, parseSecurityUpdates, securityFixesIn } from '../../src/engine/automatic';
import { KeyFile } from '../../src/engine/keyfile';
import { META_PACKAGES, META_SECURITY_UPDATES } from '../../src/engine/ostree/metadata';
import { sh } from '../lib/env';
import { runAsync, runCliAsync, serveDirectory, type RepoServer } from '../lib/http-repo';
import { miniSysroot, type MiniSysroot } from '../lib/mini-sysroot';

const REF = 'debian/12/x86_64/test';
let s: MiniSysroot;
let archive: string;
let server: RepoServer;
let conf: string;

type Pkgs = [string, string, string][];
const meta = (pkgs: Pkgs, security: string[]): Record<string, string> => ({
  [META_PACKAGES]: JSON.stringify(pkgs),
  [META_SECURITY_UPDATES]: JSON.stringify(security),
});

const BASE1: Pkgs = [
  ['bash', '5.2.15-2+b2', 'amd64'],
  ['libssl3', '3.0.11-1~deb12u1', 'amd64'],
  ['tzdata', '2024a-0+deb12u1', 'all'],
];

function setPolicy(policy: string, scope = 'full'): void {
  writeFileSync(conf, `[Daemon]\nAutomaticUpdatePolicy=${policy}\nAutomaticUpdateScope=${scope}\n`);
}

const env = (): NodeJS.ProcessEnv => ({ APT_OSTREE_CONFIG: conf });
const cli = (args: string[]) => runCliAsync(['--sysroot', s.path, ...args], { env: env() });

interface StatusJson {
  deployments: { version: string | null; checksum: string }[];
  'automatic-updates': { policy: string; scope: string; 'last-run': { result: string; message: string; mode: string } | null };
  'cached-update': {
    version: string;
    checksum: string;
    'security-fixes': string[];
    diff: { upgraded: { name: string; from: string; to: string }[] };
  } | null;
}

async function statusJson(): Promise<StatusJson> {
  const r = await cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
}

before(async () => {
  s = miniSysroot('automatic');
  archive = join(s.path, '..', 'archive');
  sh('ostree', ['init', '--mode=archive', `--repo=${archive}`]);
  s.commit('12.1', { repo: archive, metadata: meta(BASE1, []) });
  server = await serveDirectory(archive);
  sh('ostree', ['remote', 'add', `--repo=${s.repo}`, '--no-gpg-verify', 'origin', server.url]);
  const pull = await runAsync('ostree', ['pull', `--repo=${s.repo}`, 'origin', REF]);
  assert.equal(pull.code, 0, pull.stderr);
  const c1 = sh('ostree', ['rev-parse', `--repo=${s.repo}`, `origin:${REF}`]).trim();
  s.deploy(c1, `[origin]\nrefspec=origin:${REF}\n`);
  conf = join(s.path, '..', 'apt-ostreed.conf');
});

after(async () => {
  await server.close();
  s.cleanup();
});

test('config: policy and scope; unknown values name key and value and keep the previous setting', () => {
  const kf = (t: string): KeyFile => KeyFile.parse(t);
  assert.deepEqual(automaticConfigFrom(undefined).config, { policy: 'none', scope: 'full' });
  assert.deepEqual(automaticConfigFrom(kf('[Daemon]\nAutomaticUpdatePolicy=stage\nAutomaticUpdateScope=security\n')).config, {
    policy: 'stage',
    scope: 'security',
  });
  const bad = automaticConfigFrom(
    kf('[Daemon]\nAutomaticUpdatePolicy=sometimes\nAutomaticUpdateScope=most\n'),
    { policy: 'check', scope: 'security' },
    '/etc/x.conf',
  );
  assert.deepEqual(bad.config, { policy: 'check', scope: 'security' });
  assert.deepEqual(bad.problems, [
    '/etc/x.conf: [Daemon] AutomaticUpdatePolicy=sometimes is not one of none, check, stage; keeping "check"',
    '/etc/x.conf: [Daemon] AutomaticUpdateScope=most is not one of full, security; keeping "security"',
  ]);
});

test('daemon settings: reload takes good values, keeps the previous ones on bad values or a malformed file', () => {
  const path = join(s.path, '..', 'reload.conf');
  const st = new AutomaticSettings(path);
  assert.deepEqual(st.reload(), [], 'a missing file is the defaults');
  assert.deepEqual(st.get(), { policy: 'none', scope: 'full' });
  writeFileSync(path, '[Daemon]\nAutomaticUpdatePolicy=check\nAutomaticUpdateScope=security\n');
  assert.deepEqual(st.reload(), []);
  assert.deepEqual(st.get(), { policy: 'check', scope: 'security' });
  writeFileSync(path, '[Daemon]\nAutomaticUpdatePolicy=weekly\nAutomaticUpdateScope=full\n');
  const problems = st.reload();
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /\[Daemon\] AutomaticUpdatePolicy=weekly is not one of none, check, stage; keeping "check"/);
  assert.deepEqual(st.get(), { policy: 'check', scope: 'full' });
  writeFileSync(path, 'AutomaticUpdatePolicy=stage\n');
  assert.match(st.reload()[0]!, /key outside of any \[group\].*keeping the previous settings/);
  assert.deepEqual(st.get(), { policy: 'check', scope: 'full' });
});

test('security rule: only packages of the security list that the new base changes count', () => {
  assert.deepEqual(parseSecurityUpdates('["libssl3","tzdata"]'), ['libssl3', 'tzdata']);
  assert.deepEqual(parseSecurityUpdates('[["libssl3","3.0.13-1~deb12u1","amd64"]]'), ['libssl3']);
  assert.deepEqual(parseSecurityUpdates('not json'), []);
  const diff = { added: [], removed: [], downgraded: [], upgraded: [{ name: 'bash', arch: 'amd64', from: '1', to: '2' }] };
  assert.deepEqual(securityFixesIn(diff, ['libssl3']), []);
  assert.deepEqual(securityFixesIn(diff, ['bash', 'libssl3']), ['bash']);
});

test('policy none: the trigger does nothing; status says automatic updates are disabled', async () => {
  setPolicy('none');
  const r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /disabled \(AutomaticUpdatePolicy=none\)/);
  const text = await cli(['status']);
  assert.match(text.stdout, /^AutomaticUpdates: disabled$/m);
  assert.equal((await statusJson())['automatic-updates']['last-run'], null);
});

test('check: finds the newer base and remembers it; status shows AvailableUpdate; nothing is deployed', async () => {
  setPolicy('check');
  const before = await statusJson();
  assert.equal(before.deployments.length, 1);
  assert.equal(before['cached-update'], null);
  assert.equal(before['automatic-updates'].policy, 'check');
  assert.match((await cli(['status'])).stdout, /^AutomaticUpdates: check; not run yet$/m);

  s.commit('12.2', { repo: archive, metadata: meta([['bash', '5.2.15-2+b7', 'amd64'], BASE1[1]!, BASE1[2]!], []) });
  const r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);

  const after = await statusJson();
  assert.equal(after.deployments.length, 1, 'check deploys nothing');
  assert.equal(after['cached-update']?.version, '12.2');
  assert.deepEqual(after['cached-update']?.diff.upgraded, [{ name: 'bash', arch: 'amd64', from: '5.2.15-2+b2', to: '5.2.15-2+b7' }]);
  assert.equal(after['automatic-updates']['last-run']?.result, 'update-available');
  const text = (await cli(['status'])).stdout;
  assert.match(text, /^AutomaticUpdates: check; last run \d+s ago: update available: version 12\.2 \(1 upgraded\)$/m);
  assert.match(
    text,
    /^AvailableUpdate:\n {6}Version: 12\.2 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)\n {7}Commit: [0-9a-f]{64}\n {9}Diff: 1 upgraded\n {15}bash 5\.2\.15-2\+b2 -> 5\.2\.15-2\+b7$/m,
  );
});

test('stage: downloads and deploys the newer base; status after shows it as default, no AvailableUpdate', async () => {
  setPolicy('stage');
  const r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);
  const st = await statusJson();
  assert.equal(st.deployments.length, 2);
  assert.equal(st.deployments[0]!.version, '12.2');
  assert.equal(st.deployments[1]!.version, '12.1');
  assert.equal(st['cached-update'], null);
  assert.equal(st['automatic-updates']['last-run']?.result, 'staged');
  assert.match(
    (await cli(['status'])).stdout,
    /^AutomaticUpdates: stage; last run \d+s ago: staged version 12\.2 \(1 upgraded\); ready at the next boot$/m,
  );
  // Again: nothing newer, nothing done.
  const again = await cli(['automatic-update', '--trigger']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await statusJson())['automatic-updates']['last-run']?.result, 'no-update');
});

test('security scope: a base without security fixes is not taken, one with them is', async () => {
  // 12.3 lists libssl3 as from a security archive, but at the version the deployed base already has.
  s.commit('12.3', {
    repo: archive,
    metadata: meta([['bash', '5.2.15-2+b7', 'amd64'], BASE1[1]!, ['tzdata', '2024b-0+deb12u1', 'all']], ['libssl3']),
  });
  setPolicy('check', 'security');
  let r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);
  let st = await statusJson();
  assert.equal(st['automatic-updates'].scope, 'security');
  assert.equal(st['automatic-updates']['last-run']?.result, 'not-security');
  assert.match(st['automatic-updates']['last-run']?.message ?? '', /version 12\.3 is available but it carries no security fixes/);
  assert.equal(st['cached-update'], null);
  setPolicy('stage', 'security');
  r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);
  st = await statusJson();
  assert.equal(st.deployments[0]!.version, '12.2', 'no new deployment for a base without security fixes');
  assert.match((await cli(['status'])).stdout, /^AutomaticUpdates: stage \(security only\); last run .*no security update/m);

  // 12.4 upgrades libssl3 from the security archive.
  s.commit('12.4', {
    repo: archive,
    metadata: meta(
      [
        ['bash', '5.2.15-2+b7', 'amd64'],
        ['libssl3', '3.0.13-1~deb12u1', 'amd64'],
        ['tzdata', '2024b-0+deb12u1', 'all'],
      ],
      ['libssl3'],
    ),
  });
  setPolicy('check', 'security');
  r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);
  st = await statusJson();
  assert.equal(st['cached-update']?.version, '12.4');
  assert.deepEqual(st['cached-update']?.['security-fixes'], ['libssl3']);
  assert.match((await cli(['status'])).stdout, /^ {5}Security: 1 package\(s\) from security archives: libssl3$/m);
  setPolicy('stage', 'security');
  r = await cli(['automatic-update', '--trigger']);
  assert.equal(r.code, 0, r.stderr);
  st = await statusJson();
  assert.equal(st.deployments[0]!.version, '12.4');
  assert.equal(st['automatic-updates']['last-run']?.result, 'staged');
});

test('an unreachable update server: the run fails, is recorded, nothing else changes', async () => {
  s.commit('12.5', { repo: archive, metadata: meta(BASE1, []) });
  setPolicy('stage');
  await server.close();
  try {
    const r = await cli(['automatic-update', '--trigger']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: /);
    const st = await statusJson();
    assert.equal(st.deployments[0]!.version, '12.4');
    assert.equal(st['automatic-updates']['last-run']?.result, 'failed');
    assert.match((await cli(['status'])).stdout, /^AutomaticUpdates: stage; last run \d+s ago: failed: /m);
  } finally {
    await server.restart();
  }
  const r = await cli(['automatic-update', '--trigger', '--mode', 'check']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await statusJson())['cached-update']?.version, '12.5', 'the next run (retry) works');
});
