import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasLayering, newOrigin, parseOrigin, serializeOrigin, splitRefspec } from '../../src/engine/origin';

const SHA = 'a'.repeat(64);

test('a plain origin uses refspec=', () => {
  const text = serializeOrigin(newOrigin('debian:debian/bookworm/x86_64'));
  assert.equal(text, '[origin]\nrefspec=debian:debian/bookworm/x86_64\n');
  assert.equal(parseOrigin(text).refspec, 'debian:debian/bookworm/x86_64');
});

test('a layered origin uses baserefspec= and rpm-ostree groups, and round-trips', () => {
  const o = newOrigin('debian/bookworm/x86_64');
  o.requestedPackages = ['htop', 'curl'];
  o.requestedLocalPackages = [{ sha256: SHA, nva: 'foo_1.0_all' }];
  o.overrideRemove = ['nano'];
  o.initramfsRegenerate = true;
  o.initramfsArgs = ['--add', 'lvm'];
  const text = serializeOrigin(o);
  assert.match(text, /^\[origin\]\nbaserefspec=debian\/bookworm\/x86_64\n/);
  assert.match(text, /\[packages\]\nrequested=htop;curl;\nrequested-local=a{64}:foo_1\.0_all;\n/);
  assert.match(text, /\[overrides\]\nremove=nano;\n/);
  assert.match(text, /\[aptostree\]\ninitramfs-regenerate=true\ninitramfs-args=--add;lvm;\n/);
  const back = parseOrigin(text);
  assert.deepEqual(back.requestedPackages, ['htop', 'curl']);
  assert.deepEqual(back.requestedLocalPackages, [{ sha256: SHA, nva: 'foo_1.0_all' }]);
  assert.deepEqual(back.overrideRemove, ['nano']);
  assert.equal(back.initramfsRegenerate, true);
  assert.deepEqual(back.initramfsArgs, ['--add', 'lvm']);
  assert.equal(hasLayering(back), true);
});

test('dropping all layering goes back to refspec= and removes empty groups; unknown keys stay', () => {
  const o = parseOrigin('[origin]\nbaserefspec=r\nunlocked=none\n[packages]\nrequested=htop;\n[custom]\nkey=v\n');
  o.requestedPackages = [];
  assert.equal(serializeOrigin(o), '[origin]\nunlocked=none\nrefspec=r\n\n[custom]\nkey=v\n');
});

test('override-commit is kept, errors name the file', () => {
  const o = parseOrigin(`[origin]\nrefspec=r\noverride-commit=${SHA}\n`);
  assert.equal(o.overrideCommit, SHA);
  assert.throws(() => parseOrigin('[packages]\nrequested=a;\n', 'x.origin'), /x\.origin: no \[origin\] refspec/);
  assert.throws(
    () => parseOrigin('[origin]\nrefspec=r\n[packages]\nrequested-local=nothex:foo;\n', 'x.origin'),
    /x\.origin: \[packages\] requested-local/,
  );
});

test('splitRefspec', () => {
  assert.deepEqual(splitRefspec('debian:debian/bookworm'), { remote: 'debian', ref: 'debian/bookworm' });
  assert.deepEqual(splitRefspec('debian/bookworm'), { ref: 'debian/bookworm' });
});
