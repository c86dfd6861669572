import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invokedVerb } from '../../src/cli/main';

test('only the invoked verb is loaded; anything else loads all', () => {
  const argv = (...a: string[]): string[] => ['node', 'apt-ostree', ...a];
  assert.equal(invokedVerb(argv('status', '--json')), 'status');
  assert.equal(invokedVerb(argv('--sysroot', '/srv/s', 'install', 'htop')), 'install');
  assert.equal(invokedVerb(argv('--sysroot', 'status', 'kargs')), 'kargs'); // a sysroot named "status"
  assert.equal(invokedVerb(argv('--log-level', 'debug', 'compose', 'tree', 'x')), 'compose');
  assert.equal(invokedVerb(argv('update')), 'upgrade'); // an alias, from the registry
  assert.equal(invokedVerb(argv('help', 'status')), undefined);
  assert.equal(invokedVerb(argv('--help')), undefined);
  assert.equal(invokedVerb(argv()), undefined);
});

import { Command } from '@commander-js/extra-typings';
import { run } from '../../src/cli/main';
import { defineCommand, requestFromCli, type CliRequest } from '../../src/cli/define';
import { resultOutput } from '../../src/cli/output';
import { entryOf, type AnyOperation } from '../../src/engine/operations/registry';

/** Parse a command line of an operation verb to its request, as the CLI does, without running anything. */
function parse(...args: string[]): CliRequest {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  let parent = program as unknown as Command;
  let i = 0;
  let e = entryOf([args[0]!]);
  if (e?.type === 'command' && e.group) {
    parent = parent.command(args[0]!) as unknown as Command;
    e = entryOf(args.slice(0, 2));
    i = 1;
  }
  assert.ok(e && e.type === 'operation', args.join(' '));
  const op = e as AnyOperation;
  let got: CliRequest | undefined;
  defineCommand(parent, op).action((...a: unknown[]) => {
    got = requestFromCli(op, a.slice(0, op.positionals.length), a[op.positionals.length] as Record<string, unknown>);
  });
  program.parse(['node', 'apt-ostree', ...args.slice(0, i), ...args.slice(i)]);
  assert.ok(got);
  return got;
}

const NO_UPGRADE = {
  check: false,
  preview: false,
  downloadOnly: false,
  cacheOnly: false,
  allowDowngrade: false,
  reboot: false,
  dryRun: false,
};

test('command lines parse to the requests the daemon would build', () => {
  assert.deepEqual(parse('install', '-n', '--idempotent', 'htop', 'nano'), {
    request: {
      kind: 'install',
      packages: ['htop', 'nano'],
      options: { dryRun: true, cacheOnly: false, idempotent: true, allowInactive: false, reboot: false },
    },
    client: {},
  });
  assert.deepEqual(parse('uninstall', '--idempotent', '--queue', '-y', 'htop').request, {
    kind: 'uninstall',
    packages: ['htop'],
    all: false,
    options: { dryRun: false, cacheOnly: false, idempotent: true, allowInactive: false, reboot: false },
  });
  assert.deepEqual(parse('uninstall', '--queue', '-y', '--all').client, { queue: true, assumeyes: true });
  assert.deepEqual(parse('override', 'reset', '-a').request, {
    kind: 'override-reset',
    packages: [],
    all: true,
    options: { dryRun: false, cacheOnly: false, reboot: false },
  });
  assert.deepEqual(parse('kargs', '--append', 'a=1', '--append=b', '--delete-if-present', 'quiet', '-r').request, {
    kind: 'kargs',
    append: ['a=1', 'b'],
    appendIfMissing: [],
    delete: [],
    deleteIfPresent: ['quiet'],
    replace: [],
    set: undefined,
    options: { reboot: true },
  });
  assert.deepEqual(parse('cleanup', '-p', '-m').request, { kind: 'cleanup', what: ['pending', 'repomd'], options: {} });
  assert.deepEqual(parse('cleanup').request, { kind: 'cleanup', what: [], options: {} });
  assert.deepEqual(parse('pin', '2', '-u').request, { kind: 'pin', index: 2, unpin: true, options: {} });
  assert.deepEqual(parse('initramfs', '--enable', '--arg', '-v').request, {
    kind: 'initramfs',
    enable: true,
    args: ['-v'],
    options: { reboot: false },
  });
  assert.deepEqual(parse('upgrade', '--check').request, { kind: 'upgrade', options: { ...NO_UPGRADE, check: true } });
  assert.deepEqual(parse('automatic-update', '--mode', 'check', '--queue'), {
    request: { kind: 'automatic-update', options: { mode: 'check' } },
    client: { queue: true },
  });
  assert.deepEqual(parse('deploy', '--unchanged-exit-77', 'version=2').client, { 'unchanged-exit-77': true });
  assert.deepEqual(parse('automatic-update', '--mode', 'OFF', '--scope', 'Security').request, {
    kind: 'automatic-update',
    options: { mode: 'none', scope: 'security' },
  });
});

test('usage errors of the command line, before anything runs', () => {
  assert.throws(() => parse('initramfs'), /initramfs needs --enable or --disable/);
  assert.throws(() => parse('initramfs', '--enable', '--disable'), /--enable and --disable exclude each other/);
  assert.throws(() => parse('initramfs', '--disable', '--arg', 'x'), /--arg only goes with --enable/);
  assert.throws(() => parse('pin', 'first'), /"first" is not a deployment index/);
  assert.throws(() => parse('automatic-update', '--mode', 'always'), /--mode always: expected none, check or stage/);
  assert.throws(() => parse('uninstall'), /at least one package, or the option "all"/);
});

test("a result: the summary, the runner's reboot note, and 77 when nothing changed with --unchanged-exit-77", () => {
  assert.deepEqual(resultOutput({ changed: false, summary: 'No change.' }, { unchangedExit77: true }), {
    stdout: 'No change.\n',
    stderr: '',
    exitCode: 77,
  });
  assert.equal(resultOutput({ changed: false, summary: 'No change.' }).exitCode, 0);
  assert.deepEqual(
    resultOutput(
      { changed: true, summary: 'Staged.', rebootRequested: true, rebootNote: 'Not rebooting: /srv/s is not the running system' },
      { unchangedExit77: true },
    ),
    { stdout: 'Staged.\nNot rebooting: /srv/s is not the running system\n', stderr: '', exitCode: 0 },
  );
});

test('run() returns what to print and the exit code, without a process', async () => {
  const v = await run(['node', 'apt-ostree', '--version']);
  assert.deepEqual(v, { stdout: '0.1.0\n', stderr: '', exitCode: 0 });
  const bad = await run(['node', 'apt-ostree', 'initramfs']);
  assert.equal(bad.exitCode, 1);
  assert.equal(
    bad.stderr,
    'error: initramfs needs --enable or --disable\nhint: "apt-ostree status" shows whether regeneration is enabled\n',
  );
  const unknown = await run(['node', 'apt-ostree', 'frobnicate']);
  assert.equal(unknown.exitCode, 1);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const help = await run(['node', 'apt-ostree', 'uninstall', '--help']);
  assert.equal(help.exitCode, 0);
  assert.match(help.stdout, /--idempotent/);
  assert.match(help.stdout, /--queue/);
  const level = await run(['node', 'apt-ostree', '--log-level', 'loud', 'pin', '0']);
  assert.equal(level.exitCode, 1);
  assert.equal(level.stderr, 'error: unknown log level "loud"\n');
});
