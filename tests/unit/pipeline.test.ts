/** The rule that chooses the merge deployment of the deployment pipeline, on sysroot models. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseMergeDeployment, mergeStateOf } from '../../src/engine/deployment/pipeline';
import { AptOstreeError } from '../../src/engine/errors';
import { newOrigin } from '../../src/engine/origin';
import type { Deployment, Sysroot } from '../../src/engine/sysroot';

interface Spec {
  osname: string;
  booted?: boolean;
  staged?: boolean;
  noOrigin?: boolean;
}

/** A sysroot model with deployments in boot order (checksums "0…", "1…" by position). */
function sysroot(specs: Spec[]): Sysroot {
  const deployments: Deployment[] = specs.map((s, index) => {
    const checksum = String(index).repeat(64);
    return {
      index,
      osname: s.osname,
      checksum,
      serial: 0,
      booted: s.booted ?? false,
      staged: s.staged ?? false,
      pinned: false,
      isDefault: index === 0,
      isRollback: false,
      origin: s.noOrigin ? undefined : newOrigin(`origin:${s.osname}/stable`),
      originError: s.noOrigin ? 'no origin file' : undefined,
      baseChecksum: checksum,
      timestamp: 0,
      kargs: [],
      deployPath: `/sysroot/ostree/deploy/${s.osname}/deploy/${checksum}.0`,
      originPath: `/sysroot/ostree/deploy/${s.osname}/deploy/${checksum}.0.origin`,
      bootserial: 0,
      bootcsum: 'b'.repeat(64),
      bootconfig: {},
      commitMetadata: {},
    };
  });
  return {
    path: '/sysroot',
    repoPath: '/sysroot/ostree/repo',
    deployments,
    booted: deployments.find((d) => d.booted),
    defaultDeployment: deployments[0],
    staged: deployments.find((d) => d.staged),
  };
}

test("not booted: the default deployment of the stateroot (the default one's, or the one asked for)", () => {
  const s = sysroot([{ osname: 'debian' }, { osname: 'other' }, { osname: 'debian' }, { osname: 'other' }]);
  assert.equal(chooseMergeDeployment(s).index, 0);
  assert.equal(chooseMergeDeployment(s, 'other').index, 1);
});

test('booted: the booted deployment, or the pending one of its stateroot when a change is queued', () => {
  const idle = sysroot([{ osname: 'debian', booted: true }, { osname: 'debian' }]);
  assert.equal(chooseMergeDeployment(idle).index, 0);
  const pending = sysroot([{ osname: 'debian', staged: true }, { osname: 'debian', booted: true }, { osname: 'debian' }]);
  assert.equal(chooseMergeDeployment(pending).index, 0, 'changes accumulate on the staged deployment');
  // The default deployment belongs to another stateroot: the booted stateroot is the one changed.
  const otherDefault = sysroot([{ osname: 'other' }, { osname: 'debian', booted: true }]);
  assert.equal(chooseMergeDeployment(otherDefault).index, 1);
  assert.equal(chooseMergeDeployment(otherDefault, 'other').index, 0);
});

test('no deployment, and an unusable origin: typed errors with a hint', () => {
  const empty = sysroot([]);
  assert.throws(
    () => chooseMergeDeployment(empty),
    (e: unknown) =>
      e instanceof AptOstreeError && e.code === 'not-found' && /has no deployment$/.test(e.message) && /compose sysroot/.test(e.hint ?? ''),
  );
  assert.throws(
    () => chooseMergeDeployment(sysroot([{ osname: 'debian' }]), 'other'),
    (e: unknown) => e instanceof AptOstreeError && /has no deployment of the stateroot other/.test(e.message),
  );
  assert.throws(
    () => mergeStateOf(sysroot([{ osname: 'debian', noOrigin: true }])),
    (e: unknown) => e instanceof AptOstreeError && e.code === 'invalid-config' && /has no usable origin: no origin file/.test(e.message),
  );
  const st = mergeStateOf(sysroot([{ osname: 'debian', booted: true }]));
  assert.equal(st.osname, 'debian');
  assert.equal(st.origin.refspec, 'origin:debian/stable');
});
