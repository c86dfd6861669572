import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editKargs, type KargEdits } from '../../src/engine/bootconfig';
import { isValidKarg, parseKargs } from '../../src/engine/sysroot';

const none: KargEdits = { append: [], appendIfMissing: [], delete: [], deleteIfPresent: [], replace: [] };
const base = ['root=/dev/vda', 'rw', 'console=tty0', 'console=ttyS0'];

test('parseKargs splits on blanks outside double quotes and keeps the quotes', () => {
  assert.deepEqual(parseKargs('  a=1  b="x y" c\tquiet '), ['a=1', 'b="x y"', 'c', 'quiet']);
  assert.deepEqual(parseKargs(''), []);
});

test('isValidKarg accepts KEY and KEY=VALUE, refuses empty keys, bare spaces, unbalanced quotes', () => {
  for (const ok of ['quiet', 'a=b', 'a=', 'x="a b"', 'k=v=w', 'rd.break=pre-mount']) assert.ok(isValidKarg(ok), ok);
  for (const bad of ['', '=x', 'a b', 'a=b c', 'x="a b', 'k"=1', 'a=b\nc']) assert.ok(!isValidKarg(bad), JSON.stringify(bad));
});

test('append adds (also a second value of a key); append-if-missing only when that exact argument is absent', () => {
  assert.deepEqual(editKargs(base, { ...none, append: ['quiet', 'console=ttyS1'] }), [...base, 'quiet', 'console=ttyS1']);
  assert.deepEqual(editKargs(base, { ...none, appendIfMissing: ['rw', 'root=/dev/vda', 'root=/dev/sda', 'mitigations=off'] }), [
    ...base,
    'root=/dev/sda',
    'mitigations=off',
  ]);
  assert.deepEqual(editKargs(base, { ...none, append: ['quiet'], appendIfMissing: ['quiet'] }), [...base, 'quiet']);
});

test('delete KEY removes a key with one value; KEY=VALUE removes that value; several values need the value', () => {
  assert.deepEqual(editKargs(base, { ...none, delete: ['rw'] }), ['root=/dev/vda', 'console=tty0', 'console=ttyS0']);
  assert.deepEqual(editKargs(base, { ...none, delete: ['console=tty0'] }), ['root=/dev/vda', 'rw', 'console=ttyS0']);
  assert.throws(() => editKargs(base, { ...none, delete: ['console'] }), /several values/);
  assert.throws(() => editKargs(base, { ...none, delete: ['nosuch'] }), /no kernel argument "nosuch"/);
  assert.throws(() => editKargs(base, { ...none, delete: ['root=/dev/sda'] }), /no kernel argument "root=\/dev\/sda"/);
  assert.deepEqual(editKargs(base, { ...none, deleteIfPresent: ['nosuch', 'rw'] }), ['root=/dev/vda', 'console=tty0', 'console=ttyS0']);
});

test('replace KEY=VALUE and KEY=OLD=NEW', () => {
  assert.deepEqual(editKargs(base, { ...none, replace: ['root=/dev/sda'] }), ['root=/dev/sda', 'rw', 'console=tty0', 'console=ttyS0']);
  assert.deepEqual(editKargs(base, { ...none, replace: ['console=ttyS0=ttyS1'] }), [
    'root=/dev/vda',
    'rw',
    'console=tty0',
    'console=ttyS1',
  ]);
  assert.throws(() => editKargs(base, { ...none, replace: ['console=ttyS9'] }), /several values/);
  assert.throws(() => editKargs(base, { ...none, replace: ['nosuch=1'] }), /no kernel argument "nosuch"/);
  assert.throws(() => editKargs(base, { ...none, replace: ['rw'] }), /--replace: invalid "rw"/);
});

test('set (from --editor) replaces the list before the other edits; bad syntax is a usage error', () => {
  assert.deepEqual(editKargs(base, { ...none, set: ['a=1'], append: ['b'] }), ['a=1', 'b']);
  assert.throws(
    () => editKargs(base, { ...none, append: ['a b'] }),
    (e: Error & { code?: string }) => e.code === 'usage' && /--append: invalid kernel argument "a b"/.test(e.message),
  );
  assert.throws(() => editKargs(base, { ...none, set: ['=1'] }), /--editor: invalid kernel argument "=1"/);
});
