import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupPlan, cleanupWriteOrder } from '../../src/engine/bootconfig';
import type { Deployment } from '../../src/engine/sysroot';

/** A deployment record as loadSysroot makes it, with only what the cleanup plan looks at filled in. */
function dep(index: number, flags: Partial<Pick<Deployment, 'booted' | 'staged' | 'pinned' | 'isDefault' | 'isRollback'>>): Deployment {
  return {
    index,
    osname: 'debian',
    checksum: `${index}`.repeat(64).slice(0, 64),
    serial: 0,
    booted: false,
    staged: false,
    pinned: false,
    isDefault: false,
    isRollback: false,
    baseChecksum: '',
    timestamp: 0,
    kargs: [],
    deployPath: '',
    originPath: '',
    bootserial: 0,
    bootcsum: '',
    bootconfig: {},
    commitMetadata: {},
    ...flags,
  } as Deployment;
}

// A booted system with an update staged: libostree lists the staged one first.
const staged = dep(0, { staged: true, isDefault: true });
const booted = dep(1, { booted: true });
const rollback = dep(2, { isRollback: true });
const sysroot = { deployments: [staged, booted, rollback], booted, rollback };

test('cleanup -r on a booted system with a staged update keeps the staged one, first in the list written', () => {
  const { keep, dropped } = cleanupPlan(sysroot, ['rollback']);
  assert.deepEqual(dropped, [rollback]);
  const order = cleanupWriteOrder(keep);
  // libostree keeps a staged deployment only when it is the first of the new list.
  assert.deepEqual(order, [staged, booted]);
});

test('the staged deployment goes first even when the kept list has it later', () => {
  assert.deepEqual(cleanupWriteOrder([booted, staged]), [staged, booted]);
  assert.deepEqual(cleanupWriteOrder([booted]), [booted]);
});

test('cleanup -p drops the staged deployment (it is pending); pinned ones stay', () => {
  const pinnedRollback = dep(2, { isRollback: true, pinned: true });
  const { keep, dropped } = cleanupPlan({ deployments: [staged, booted, pinnedRollback], booted, rollback: pinnedRollback }, [
    'pending',
    'rollback',
  ]);
  assert.deepEqual(dropped, [staged]);
  assert.deepEqual(cleanupWriteOrder(keep), [booted, pinnedRollback]);
});

test('cleanup -p on a booted system with a staged update keeps the deployment after the booted one (the rollback once nothing is pending)', () => {
  // As loadSysroot models it: with a staged deployment first, `rollback` is the booted one.
  const plain = dep(2, {});
  const { keep, dropped } = cleanupPlan({ deployments: [staged, booted, plain], booted, rollback: booted }, ['pending']);
  assert.deepEqual(dropped, [staged]);
  assert.deepEqual(keep, [booted, plain]);
});
