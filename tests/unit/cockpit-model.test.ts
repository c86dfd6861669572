/**
 * The Cockpit page's reading of the daemon's JSON (cockpit/src/model.ts):
 * the status of the engine itself (a real statusOfSysroot shape), the
 * transaction Result in both its forms (hint inside the error text, or a
 * field of its own), and malformed data refused with the field named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BadData,
  deploymentLabels,
  kargsDiff,
  parseLastRun,
  parseResult,
  parseStatus,
  pendingDeployment,
  words,
} from '../../cockpit/src/model';

const C1 = 'a'.repeat(64);
const C2 = 'b'.repeat(64);

function dep(checksum: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: `debian-${checksum}.0`,
    osname: 'debian',
    serial: 0,
    checksum,
    'base-checksum': checksum,
    origin: 'origin:debian/bookworm/x86_64',
    version: '1.0',
    timestamp: 1700000000,
    booted: false,
    staged: false,
    pinned: false,
    unlocked: 'none',
    'requested-packages': [],
    'requested-local-packages': [],
    packages: [],
    'requested-base-removals': [],
    'base-removals': [],
    'requested-base-local-replacements': [],
    'base-local-replacements': [],
    'regenerate-initramfs': false,
    'initramfs-args': [],
    kargs: ['root=/dev/vda'],
    'base-commit-meta': {},
    default: false,
    rollback: false,
    'deploy-path': '/x',
    ...extra,
  };
}

describe('the Cockpit page model', () => {
  it('reads a status: deployments, transaction, automatic updates, available update', () => {
    const st = parseStatus(
      JSON.stringify({
        deployments: [
          dep(C2, { default: true, 'base-checksum': C1, 'requested-packages': ['htop'], packages: ['htop'] }),
          dep(C1, { booted: true, rollback: true, pinned: true }),
        ],
        transaction: ['install htop', ':1.42', '/org/aptostree/dev/transaction/3', 'running'],
        'automatic-updates': {
          policy: 'check',
          scope: 'security',
          'last-run': { started: 's', finished: 'f', mode: 'check', result: 'update-available', message: 'version 2' },
        },
        'cached-update': { checksum: C2, version: '2.0', timestamp: 1700000001 },
      }),
    );
    assert.equal(st.deployments.length, 2);
    assert.equal(st.deployments[0]!.baseChecksum, C1);
    assert.deepEqual(st.deployments[0]!.packages, ['htop']);
    assert.deepEqual(st.transaction, {
      title: 'install htop',
      initiator: ':1.42',
      path: '/org/aptostree/dev/transaction/3',
      state: 'running',
    });
    assert.equal(st.policy, 'check');
    assert.equal(st.scope, 'security');
    assert.equal(st.lastRun?.result, 'update-available');
    assert.deepEqual(st.available, { checksum: C2, version: '2.0', timestamp: 1700000001 });
    assert.deepEqual(deploymentLabels(st.deployments[0]!, st.deployments), ['Pending']);
    assert.deepEqual(deploymentLabels(st.deployments[1]!, st.deployments), ['Booted', 'Rollback', 'Pinned']);
    assert.equal(pendingDeployment(st)?.checksum, C2);
  });

  it('a lone deployment of a sysroot that is not booted is not "pending"', () => {
    const st = parseStatus(JSON.stringify({ deployments: [dep(C1, { default: true })], transaction: null }));
    assert.deepEqual(deploymentLabels(st.deployments[0]!, st.deployments), []);
    assert.equal(pendingDeployment(st), undefined);
    assert.equal(st.policy, 'none');
    assert.equal(st.lastRun, null);
  });

  it('refuses malformed status JSON, naming the field', () => {
    assert.throws(() => parseStatus('{'), BadData);
    assert.throws(() => parseStatus('[]'), /status is not an object/);
    assert.throws(() => parseStatus(JSON.stringify({ deployments: {} })), /status\.deployments is not a list/);
    assert.throws(
      () => parseStatus(JSON.stringify({ deployments: [dep(C1, { timestamp: 'x' })] })),
      /deployments\[0\]\.timestamp is not a number/,
    );
    assert.throws(() => parseStatus(JSON.stringify({ deployments: [dep('xyz')] })), /deployments\[0\]\.checksum is not a commit checksum/);
    assert.throws(
      () => parseStatus(JSON.stringify({ deployments: [dep(C1, { kargs: [1] })] })),
      /deployments\[0\]\.kargs is not a list of strings/,
    );
    assert.throws(() => parseStatus(JSON.stringify({ deployments: [], transaction: 3 })), /transaction is not/);
  });

  it('reads a transaction Result, with the hint as a field or without one', () => {
    const ok = parseResult(JSON.stringify({ success: true, changed: true, summary: 'Deployed', deployment: 'x', rebootRequested: true }));
    assert.deepEqual(ok, { success: true, changed: true, summary: 'Deployed', deployment: 'x', rebootRequested: true });
    const failed = parseResult(
      JSON.stringify({
        success: false,
        changed: false,
        summary: 's',
        error: 'package not found: foo',
        code: 'not-found',
        hint: 'check the name',
      }),
    );
    assert.equal(failed.error, 'package not found: foo');
    assert.equal(failed.hint, 'check the name');
    assert.equal(failed.code, 'not-found');
    const old = parseResult(JSON.stringify({ success: false, changed: false, summary: 's', error: 'x\nhint: y' }));
    assert.equal(old.hint, undefined);
    assert.throws(() => parseResult(JSON.stringify({ changed: true })), /Result\.success is not a boolean/);
    assert.throws(() => parseResult(''), BadData);
  });

  it('reads the AutomaticUpdateLastRun property ("" when none)', () => {
    assert.equal(parseLastRun(''), null);
    assert.deepEqual(parseLastRun('{"mode":"stage","result":"staged"}'), { mode: 'stage', result: 'staged' });
    assert.throws(() => parseLastRun('{"mode":1}'), /last-run\.mode is not a string/);
  });

  it('kernel argument edits and words', () => {
    assert.deepEqual(kargsDiff(['root=/dev/vda', 'quiet'], ['root=/dev/vda', 'console=ttyS0']), {
      append: ['console=ttyS0'],
      remove: ['quiet'],
    });
    assert.deepEqual(kargsDiff(['a'], ['a']), { append: [], remove: [] });
    assert.deepEqual(words('  foo  bar=1 x="a b" '), ['foo', 'bar=1', 'x="a b"']);
    assert.deepEqual(words('   '), []);
  });
});
