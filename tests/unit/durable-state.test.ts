import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { automaticStatePath } from '../../src/engine/automatic';

test('the automatic-update state is written to a temporary file, fsynced, then renamed over the old one (and the directory fsynced)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aptostree-state-'));
  try {
    const mod = join(__dirname, '..', '..', 'src', 'engine', 'automatic.js');
    const trace = join(dir, 'trace');
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-e',
        'trace=openat,fsync,fdatasync,rename,renameat,renameat2',
        '-o',
        trace,
        process.execPath,
        '-e',
        `require(${JSON.stringify(mod)}).writeAutomaticState(${JSON.stringify(dir)}, { version: 1, lastRun: { result: 'ok' } })`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const path = automaticStatePath(dir);
    const at = (re: RegExp): number => lines.findIndex((l) => re.test(l));
    const open = lines.find((l) => l.includes(`"${path}.tmp"`) && /openat/.test(l));
    assert.ok(open, 'the temporary file is opened');
    const fd = /= (\d+)$/.exec(open)![1];
    const sync = at(new RegExp(`fsync\\(${fd}\\)`));
    const rename = at(/rename/);
    assert.ok(
      sync >= 0 && rename > sync,
      `fsync of the file before the rename:\n${lines.filter((l) => /fsync|rename/.test(l)).join('\n')}`,
    );
    assert.ok(
      lines.slice(rename + 1).some((l) => /fsync\(/.test(l)),
      'the directory is fsynced after the rename',
    );
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { version: 1, lastRun: { result: 'ok' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
