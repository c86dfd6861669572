/**
 * The D-Bus contract's one mapping: every request the engine knows encodes
 * to a method call that decodes back to the same request; option keys and
 * values are checked; the daemon's configuration file is typed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeCall,
  encodeRequest,
  inSignature,
  requestKey,
  DAEMON_INTERFACE,
  METHOD_ACTIONS,
  METHOD_OPTIONS,
  type WireVariant,
} from '../../src/dbus/contract';
import type { OperationRequest } from '../../src/engine/operations/types';
import { KeyFile } from '../../src/engine/keyfile';
import { daemonConfigFrom, DEFAULT_DAEMON_CONFIG } from '../../src/engine/config';

const D = { dryRun: false, cacheOnly: false, reboot: false };
const U = { ...D, check: false, preview: false, downloadOnly: false, allowDowngrade: false };

const REQUESTS: OperationRequest[] = [
  {
    kind: 'install',
    packages: ['htop', 'libfoo1:amd64', '/tmp/x.deb'],
    options: { dryRun: true, cacheOnly: false, reboot: true, idempotent: true, allowInactive: false },
  },
  { kind: 'uninstall', packages: ['htop'], all: false, options: { ...D, idempotent: false, allowInactive: false } },
  { kind: 'uninstall', packages: [], all: true, options: { ...D, idempotent: false, allowInactive: false } },
  { kind: 'override-remove', packages: ['nano'], options: D },
  { kind: 'override-replace', debs: ['/srv/a_1_all.deb'], options: { ...D, cacheOnly: true } },
  { kind: 'override-reset', packages: ['nano'], all: false, options: D },
  { kind: 'override-reset', packages: [], all: true, options: D },
  { kind: 'reset', options: { ...D, reboot: true } },
  { kind: 'refresh-md', options: { force: true } },
  { kind: 'upgrade', options: { ...U, check: true } },
  { kind: 'deploy', revision: 'version=2.0', options: { ...U, allowDowngrade: true } },
  { kind: 'deploy', revision: 'a'.repeat(64), options: { ...U, skipBranchCheck: true } },
  { kind: 'rebase', refspec: 'origin:debian/13/x86_64/stable', options: { ...U, downloadOnly: true } },
  { kind: 'rollback', options: { reboot: false } },
  {
    kind: 'kargs',
    append: ['quiet'],
    appendIfMissing: ['a=1'],
    delete: ['rhgb'],
    deleteIfPresent: [],
    replace: ['console=ttyS0=ttyS1'],
    set: undefined,
    options: { reboot: false },
  },
  {
    kind: 'kargs',
    append: [],
    appendIfMissing: [],
    delete: [],
    deleteIfPresent: [],
    replace: [],
    set: ['root=/dev/vda', 'rd.x="a b"'],
    options: { reboot: true },
  },
  { kind: 'initramfs', enable: true, args: ['--add', 'x'], options: { reboot: false } },
  { kind: 'cleanup', what: ['base', 'repomd'], options: {} },
  { kind: 'pin', index: 1, unpin: true, options: {} },
  { kind: 'automatic-update', options: { mode: 'check' } },
];

test('every request round-trips through its method call', () => {
  for (const req of REQUESTS) {
    for (const queue of [false, true]) {
      const c = encodeRequest(req, { queue });
      assert.equal(c.signature, inSignature(c.method), `${req.kind}: signature`);
      const d = decodeCall(c.method, [...c.args, c.options]);
      assert.equal(d.queue, queue);
      assert.equal(requestKey(d.request), requestKey(req), `${req.kind} round trip`);
      assert.ok(METHOD_ACTIONS[c.method], `${c.method} has a polkit action`);
    }
  }
  // Every changing method of the interface has options and an action.
  for (const m of DAEMON_INTERFACE.methods) {
    if (['Ping', 'GetStatus', 'Reload', 'CancelActive'].includes(m.name)) continue;
    assert.ok(METHOD_OPTIONS[m.name], m.name);
  }
});

test('requests that differ only in absent/false flags are the same request; queue does not count', () => {
  const a = decodeCall('Rollback', [{}]).request;
  const b = decodeCall('Rollback', [{ reboot: { signature: 'b', value: false }, queue: { signature: 'b', value: true } }]).request;
  assert.equal(requestKey(a), requestKey(b));
  assert.notEqual(requestKey(a), requestKey(decodeCall('Rollback', [{ reboot: { signature: 'b', value: true } }]).request));
});

test('options and arguments are validated: unknown keys, types, names, sizes', () => {
  const o = (k: string, v: WireVariant): Record<string, WireVariant> => ({ [k]: v });
  assert.throws(
    () => decodeCall('InstallPackages', [['htop'], o('assumeyes', { signature: 'b', value: true })]),
    /unknown option "assumeyes" for InstallPackages/,
  );
  assert.throws(
    () => decodeCall('InstallPackages', [['htop'], o('reboot', { signature: 's', value: 'yes' })]),
    /must be of type b \(got s\)/,
  );
  assert.throws(() => decodeCall('Rollback', [o('check', { signature: 'b', value: true })]), /unknown option "check" for Rollback/);
  assert.throws(
    () => decodeCall('UpgradeSystem', [o('skip-branch-check', { signature: 'b', value: true })]),
    /unknown option "skip-branch-check" for UpgradeSystem/,
  );
  assert.throws(() => decodeCall('InstallPackages', [['Bad_Name'], {}]), /not a valid package name/);
  assert.throws(() => decodeCall('InstallPackages', [['-rf'], {}]), /not a valid package name/);
  assert.throws(() => decodeCall('InstallPackages', [['x.deb'], {}]), /absolute path/);
  assert.throws(() => decodeCall('RemovePackages', [['/tmp/x.deb'], {}]), /not a valid package name/);
  assert.throws(
    () => decodeCall('RemovePackages', [['ab'], o('all', { signature: 'b', value: true })]),
    /either packages or the option "all"/,
  );
  assert.throws(() => decodeCall('UpdateOverrides', [['ab'], ['/x.deb'], [], {}]), /exactly one of/);
  assert.throws(() => decodeCall('UpdateOverrides', [[], [], [], {}]), /exactly one of/);
  assert.throws(() => decodeCall('Cleanup', [['base', 'all'], {}]), /"all" is not something to clean up/);
  assert.throws(() => decodeCall('PinDeployment', [-1, {}]), /non-negative/);
  assert.throws(
    () => decodeCall('AutomaticUpdateTrigger', [o('mode', { signature: 's', value: 'always' })]),
    /must be one of none, check, stage/,
  );
  assert.throws(() => decodeCall('InstallPackages', [Array(513).fill('a1'), {}]), /too many packages \(513; at most 512\)/);
  assert.throws(() => decodeCall('Rebase', ['a b', {}]), /contains spaces/);
  assert.throws(() => decodeCall('ModifyKernelArgs', [[], [], [], {}]), /at least one change/);
  const proto = JSON.parse('{"__proto__": {"signature": "b", "value": true}}') as unknown;
  assert.throws(() => decodeCall('Rollback', [Object.create(proto as object)]), /reserved key/);
});

test('daemon configuration: typed values, problems named, previous values kept', () => {
  const kf = KeyFile.parse(
    '[Daemon]\nLogLevel=debug\nIdleExitTimeout=0\nTransactionTimeout=-5\nAutomaticUpdatePolicy=stage\nAutomaticUpdateScope=security\n[Countme]\nEnabled=false\n[Other]\nx=1\n',
  );
  const prev = { ...DEFAULT_DAEMON_CONFIG, transactionTimeout: 99 };
  const { config, problems } = daemonConfigFrom(kf, prev, 'test.conf');
  assert.deepEqual(config, {
    logLevel: 'debug',
    idleExitTimeout: 0,
    transactionTimeout: 99,
    automaticUpdatePolicy: 'stage',
    automaticUpdateScope: 'security',
  });
  assert.deepEqual(problems, [
    'test.conf: [Daemon] TransactionTimeout=-5 is not a number of seconds; keeping 99',
    'test.conf: unknown group [Other]; ignored',
  ]);
  assert.deepEqual(daemonConfigFrom(undefined).config, DEFAULT_DAEMON_CONFIG);
});

test('revisions, refspecs and kernel arguments are checked when the call arrives: what the engine takes passes, the rest is refused', () => {
  const csum = 'a'.repeat(64);
  for (const rev of [csum, `revision=${csum}`, 'version=13.1', 'version=2024.10~rc1'])
    assert.equal((decodeCall('DeployCommit', [rev, {}]).request as { revision: string }).revision, rev);
  for (const bad of ['=x', 'abc', '../../etc/shadow', `${csum}0`, 'version='])
    assert.throws(() => decodeCall('DeployCommit', [bad, {}]), /is not a revision/, bad);
  for (const spec of ['debian:debian/13/x86_64/base', 'debian/13/x86_64/base', 'debian:', 'my_remote:os/x86-64.v2/base'])
    assert.equal((decodeCall('Rebase', [spec, {}]).request as { refspec: string }).refspec, spec);
  for (const bad of ['=x', ':', '../../etc/shadow', 'a//b', '-o:x', 'r:/abs', 'k="q'])
    assert.throws(() => decodeCall('Rebase', [bad, {}]), /is not a refspec/, bad);
  for (const k of ['quiet', 'a=b', 'x="a b"', 'k=v=w'])
    assert.deepEqual((decodeCall('ModifyKernelArgs', [[k], [], [], {}]).request as { append: string[] }).append, [k]);
  for (const bad of ['k="unbalanced', '=x', 'k"=1', 'a b'])
    assert.throws(() => decodeCall('ModifyKernelArgs', [[bad], [], [], {}]), /is not one kernel argument/, bad);
});
