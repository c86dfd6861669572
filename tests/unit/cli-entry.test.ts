/**
 * The CLI's fast entry (src/cli/entry.ts): which command lines it serves as
 * `status` itself, and that every other one goes to the full CLI, whose
 * output and exit codes are those of commander.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { statusInvocation } from '../../src/cli/entry';
import { VERB_NAMES } from '../../src/engine/operations/registry';
import { CLI } from '../lib/env';

const argv = (...a: string[]): string[] => ['node', 'apt-ostree', ...a];

test('plain status command lines are served by the entry, with the globals before or after the verb', () => {
  const saved = { sysroot: process.env.APT_OSTREE_SYSROOT, level: process.env.APT_OSTREE_LOG_LEVEL };
  delete process.env.APT_OSTREE_SYSROOT;
  delete process.env.APT_OSTREE_LOG_LEVEL;
  try {
    assert.deepEqual(statusInvocation(argv('status')), { sysroot: '/', logLevel: 'warning', flags: {} });
    assert.deepEqual(statusInvocation(argv('--sysroot', '/s', 'status', '--json', '-b', '-v')), {
      sysroot: '/s',
      logLevel: 'warning',
      flags: { json: true, booted: true, verbose: true },
    });
    assert.deepEqual(statusInvocation(argv('status', '--booted', '--verbose', '--sysroot=/t', '--log-level=debug')), {
      sysroot: '/t',
      logLevel: 'debug',
      flags: { booted: true, verbose: true },
    });
    assert.deepEqual(statusInvocation(argv('--log-level', 'warn', '--sysroot', '/a', 'status', '--sysroot', '/b')), {
      sysroot: '/b',
      logLevel: 'warning',
      flags: {},
    });
    process.env.APT_OSTREE_SYSROOT = '/env';
    assert.equal(statusInvocation(argv('status'))?.sysroot, '/env');
    process.env.APT_OSTREE_LOG_LEVEL = 'nonsense';
    assert.equal(statusInvocation(argv('status')), undefined);
  } finally {
    for (const [k, v] of [
      ['APT_OSTREE_SYSROOT', saved.sysroot],
      ['APT_OSTREE_LOG_LEVEL', saved.level],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test('anything else goes to the full CLI', () => {
  for (const a of [
    [],
    ['--version'],
    ['install', 'x'],
    ['status', '--help'],
    ['-h', 'status'],
    ['status', '-bv'],
    ['status', 'extra'],
    ['status', '--'],
    ['status', '--sysroot'],
    ['status', '--sysroot', ''],
    ['status', '--sysroot', '--json'],
    ['--log-level=chatty', 'status'],
    ['status', '--jsonx'],
    ['--queue', 'status'],
  ]) {
    assert.equal(statusInvocation(argv(...a)), undefined, a.join(' '));
  }
});

test('the command lines the entry leaves alone behave as commander makes them', () => {
  const run = (...a: string[]): { code: number | null; out: string; err: string } => {
    const r = spawnSync(process.execPath, [CLI, ...a], { encoding: 'utf8', env: { ...process.env, APT_OSTREE_DIRECT: '1' } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const help = run('status', '--help');
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: apt-ostree status \[options\]/);
  assert.match(help.out, /--json/);
  const extra = run('status', 'extra');
  assert.equal(extra.code, 1);
  assert.match(extra.err, /too many arguments for 'status'/);
  const level = run('--log-level', 'chatty', 'status');
  assert.equal(level.code, 1);
  assert.equal(level.err, 'error: unknown log level "chatty"\n');
  // A bundled short flag is commander's to read: -bv on a missing sysroot fails as status does.
  const bv = run('status', '-bv', '--sysroot', '/nonexistent-sysroot');
  assert.equal(bv.code, 1);
  assert.match(bv.err, /^error: \/nonexistent-sysroot is not an OSTree sysroot: no such directory\nhint: /);
  // The entry's own error report is the same.
  const own = run('status', '--sysroot', '/nonexistent-sysroot');
  assert.equal(own.code, 1);
  assert.equal(own.err, bv.err);
  assert.equal(own.out, '');
});

test('every verb of the registry loads from the bundled CLI (its help prints, exit 0)', () => {
  for (const verb of VERB_NAMES) {
    const r = spawnSync(process.execPath, [CLI, verb, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${verb} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: apt-ostree ${verb}`), verb);
  }
});
