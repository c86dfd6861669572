import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_STDERR, run } from '../../src/engine/exec';
import { AptOstreeError } from '../../src/engine/errors';

test('a command that prints without end is stopped at the stdout bound, with an error that says so', async () => {
  const t0 = Date.now();
  await assert.rejects(
    run('cat', ['/dev/zero'], { maxStdout: 4 * 1024 * 1024, what: 'reading zeros' }),
    (e: unknown) => e instanceof AptOstreeError && /reading zeros printed more than 4194304 bytes; stopped/.test(e.message),
  );
  assert.ok(Date.now() - t0 < 10000);
});

test('stderr keeps its last MAX_STDERR bytes only, so the end of an error stays readable', async () => {
  const r = await run('sh', ['-c', `head -c ${3 * MAX_STDERR} /dev/zero | tr '\\0' x >&2; echo THE-END >&2`]);
  assert.ok(r.stderr.length <= MAX_STDERR + 64 * 1024, `${r.stderr.length} bytes kept`);
  assert.match(r.stderr, /THE-END\n$/);
});

test('a program that is not installed is named as such (children start through setpriv --pdeathsig)', async () => {
  await assert.rejects(
    run('no-such-program-aptostree', [], { what: 'a test' }),
    (e: unknown) => e instanceof AptOstreeError && /no-such-program-aptostree is not installed \(needed for a test\)/.test(e.message),
  );
});
