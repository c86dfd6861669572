import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AptOstreeError } from '../../src/engine/errors';
import { classifyPullError } from '../../src/engine/updates/remote';
import { parseRevision, rebaseTarget } from '../../src/engine/updates/upgrade';
import { parsePackageList } from '../../src/engine/ostree/metadata';

const C = 'a'.repeat(64);

test('parseRevision: checksum, version=, revision=; anything else refused', () => {
  assert.deepEqual(parseRevision(C), { checksum: C });
  assert.deepEqual(parseRevision('version=2.0'), { version: '2.0' });
  assert.deepEqual(parseRevision(`revision=${C}`), { checksum: C });
  for (const bad of ['HEAD', 'abc', 'version=', `${C}0`, '--foo']) assert.throws(() => parseRevision(bad), /is not a revision/);
});

test('rebaseTarget: REF keeps the remote, REMOTE:REF replaces both, REMOTE: keeps the ref', () => {
  assert.equal(rebaseTarget('origin:debian/a', 'debian/b'), 'origin:debian/b');
  assert.equal(rebaseTarget('origin:debian/a', 'other:debian/b'), 'other:debian/b');
  assert.equal(rebaseTarget('origin:debian/a', 'other:'), 'other:debian/a');
  assert.equal(rebaseTarget('debian/a', 'debian/b'), 'debian/b');
  assert.throws(() => rebaseTarget('origin:a', '-o:x'), /invalid remote name/);
  assert.throws(() => rebaseTarget('origin:a', 'origin:../x'), /invalid ref/);
  assert.throws(() => rebaseTarget('origin:a', ''), /needs a ref/);
});

test('classifyPullError turns ostree pull failures into errors with hints', () => {
  const where = { remote: 'origin', url: 'http://127.0.0.1:1', what: 'debian/x' };
  const err = (details: string): AptOstreeError => new AptOstreeError('ostree', 'pulling failed (ostree exit code 1)', { details });
  const net = classifyPullError(
    err("error: While fetching http://127.0.0.1:1/config: [7] Couldn't connect to server"),
    where,
  ) as AptOstreeError;
  assert.equal(net.code, 'network');
  assert.match(net.hint ?? '', /reused/);
  const nothing = classifyPullError(
    err('error: While fetching http://127.0.0.1:1/objects/32/ab.filez: [52] Server returned nothing (no headers, no data)'),
    where,
  ) as AptOstreeError;
  assert.equal(nothing.code, 'network');
  const nf = classifyPullError(err("error: No such branch 'debian/x' in repository summary"), where) as AptOstreeError;
  assert.equal(nf.code, 'not-found');
  assert.match(nf.message, /ref "debian\/x" was not found on the remote "origin"/);
  const gpg = classifyPullError(err('error: Commit 1234: GPG verification enabled, but no signatures found'), where) as AptOstreeError;
  assert.equal(gpg.code, 'denied');
  const bad = classifyPullError(
    err("error: Writing content object: Corrupted file object; checksum expected='x' actual='y'"),
    where,
  ) as AptOstreeError;
  assert.match(bad.message, /served corrupt objects/);
  const eof = classifyPullError(err('error: Writing content object: Unexpected EOF with 6/31448 bytes remaining'), where) as AptOstreeError;
  assert.match(eof.message, /served corrupt objects/);
  const cancelled = new AptOstreeError('cancelled', 'x');
  assert.equal(classifyPullError(cancelled, where), cancelled);
});

test('parsePackageList validates the shape of the metadata', () => {
  assert.deepEqual(parsePackageList('[["a","1.0","amd64"]]', 'c'), [{ name: 'a', version: '1.0', arch: 'amd64' }]);
  assert.throws(() => parsePackageList('{', 'c'), /not JSON/);
  assert.throws(() => parsePackageList('[[1,2,3]]', 'c'), /not \[name, version, arch\]/);
});
