/**
 * The operation registry and what derives from it: the shipped polkit
 * policy and D-Bus introspection are the registry's rendering; the CLI
 * offers what the registry declares; the man pages render without warnings;
 * the bash completion offers verbs and options.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from '@commander-js/extra-typings';
import { buildProgram } from '../../src/cli/main';
import { output } from '../../src/cli/output';
import { DAEMON_INTERFACE, METHOD_ACTIONS, POLKIT_ACTIONS } from '../../src/dbus/contract';
import { cliOptions, COMMANDS, ENTRIES, OPERATIONS, type AnyOperation, type Entry } from '../../src/engine/operations/registry';
import { renderCompletion, renderIntrospection, renderManCli, renderManConf, renderManDaemon, renderPolicy } from '../../src/gen/render';
import { ROOT } from '../lib/env';

test('the shipped polkit policy and D-Bus introspection are the registry\'s (run "npm run build" after changing it)', () => {
  assert.equal(readFileSync(join(ROOT, 'data', 'org.aptostree.dev.policy'), 'utf8'), renderPolicy());
  assert.equal(readFileSync(join(ROOT, 'data', 'org.aptostree.dev.xml'), 'utf8'), renderIntrospection());
  // Every action id the project has shipped stays, each checked by some method.
  for (const a of [
    'install-packages',
    'remove-packages',
    'override',
    'reset',
    'refresh-md',
    'upgrade-system',
    'deploy',
    'rebase',
    'rollback',
    'modify-kernel-args',
    'initramfs',
    'cleanup',
    'cancel',
    'reload-daemon',
  ])
    assert.ok(POLKIT_ACTIONS.includes(`org.aptostree.dev.${a}`), a);
  assert.equal((renderPolicy().match(/<allow_\w+>auth_admin</g) ?? []).length, POLKIT_ACTIONS.length * 3);
});

test('the D-Bus methods keep their names and signatures; the shared method serves the three override verbs', () => {
  const sig = Object.fromEntries(DAEMON_INTERFACE.methods.map((m) => [m.name, m.in.map((x) => x.type).join('')]));
  assert.deepEqual(sig, {
    Ping: '',
    GetStatus: '',
    InstallPackages: 'asa{sv}',
    RemovePackages: 'asa{sv}',
    UpdateOverrides: 'asasasa{sv}',
    Reset: 'a{sv}',
    RefreshMd: 'a{sv}',
    UpgradeSystem: 'a{sv}',
    DeployCommit: 'sa{sv}',
    Rebase: 'sa{sv}',
    Rollback: 'a{sv}',
    ModifyKernelArgs: 'asasasa{sv}',
    SetInitramfsState: 'basa{sv}',
    Cleanup: 'asa{sv}',
    PinDeployment: 'ia{sv}',
    AutomaticUpdateTrigger: 'a{sv}',
    CancelActive: '',
    Reload: '',
  });
  const overrides = (OPERATIONS as readonly AnyOperation[]).filter((e) => e.dbus.name === 'UpdateOverrides').map((e) => e.verb.join(' '));
  assert.deepEqual(overrides, ['override remove', 'override replace', 'override reset']);
  assert.equal(METHOD_ACTIONS.UpdateOverrides, 'override');
});

/** The commander command of a verb path, with every verb registered. */
function commandOf(path: readonly string[]): Command {
  // As for that command line: the verb's own module registers it.
  const program = buildProgram(['node', 'apt-ostree', ...path], output());
  let c = program as unknown as Command;
  for (const w of path) c = c.commands.find((x) => x.name() === w) as unknown as Command;
  assert.ok(c, path.join(' '));
  return c;
}

const longs = (c: Command): string[] => c.options.map((o) => o.long!.slice(2)).sort();

test("each verb offers exactly the registry's options: --queue on every queueable verb, --idempotent on uninstall", () => {
  for (const e of ENTRIES as readonly Entry[]) {
    if (e.type === 'command' && e.group) continue;
    const c = commandOf(e.verb);
    assert.deepEqual(
      longs(c),
      cliOptions(e)
        .map((o) => o.long)
        .sort(),
      e.verb.join(' '),
    );
    if (e.type === 'operation') assert.equal(longs(c).includes('queue'), e.traits.queueable === true, `${e.verb.join(' ')} --queue`);
  }
  assert.ok(longs(commandOf(['automatic-update'])).includes('queue'));
  assert.ok(longs(commandOf(['uninstall'])).includes('idempotent'));
  // status has its own module: its options must still be the registry's (help, man pages, completion).
  const status = COMMANDS.find((x) => x.verb[0] === 'status')!;
  assert.deepEqual(longs(commandOf(['status'])), status.options.map((o) => o.long).sort());
});

test('every verb of the CLI is in the registry, and the reverse; help needs no verb module', () => {
  const names = (argv: string[]): string[] => (buildProgram(argv, output()) as unknown as Command).commands.map((c) => c.name()).sort();
  const verbs = [...new Set(ENTRIES.map((e) => e.verb[0]!))].sort();
  assert.deepEqual(names(['node', 'apt-ostree']), verbs);
  for (const v of verbs) assert.deepEqual(names(['node', 'apt-ostree', v]), [v]);
});

/** The compiled modules a command line loads (a preload lists them at exit). */
function loadedModules(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'apt-ostree-load-'));
  try {
    const hook = join(dir, 'hook.js');
    writeFileSync(
      hook,
      "process.on('exit', () => process.stderr.write('LOADED ' + Object.keys(require.cache).join('\\nLOADED ') + '\\n'));\n",
    );
    const r = spawnSync(process.execPath, ['--require', hook, join(ROOT, 'bin', 'apt-ostree'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, APT_OSTREE_DIRECT: '1' },
    });
    return r.stderr
      .split('\n')
      .filter((l) => l.startsWith('LOADED '))
      .map((l) => l.slice(7));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('help and status load no operation implementation (the registry only names them)', () => {
  // (status itself reads the automatic-update state: engine/automatic is its own.)
  const implementations = /dist\/src\/engine\/(layering\/operations|bootconfig|updates\/upgrade|compose\/)/;
  for (const args of [
    ['--help'],
    ['help', 'install'],
    ['install', '--help'],
    ['status', '--help'],
    ['--sysroot', '/nonexistent', 'status'],
  ]) {
    const loaded = loadedModules(args);
    assert.ok(
      loaded.some((f) => f.endsWith('dist/src/cli/main.js')),
      `${args.join(' ')}: the hook works`,
    );
    assert.deepEqual(
      loaded.filter((f) => implementations.test(f)),
      [],
      args.join(' '),
    );
  }
  // The check can fail: a verb that runs loads its implementation.
  assert.ok(loadedModules(['--sysroot', '/nonexistent', 'rollback']).some((f) => implementations.test(f)));
});

function manWarnings(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'apt-ostree-man-'));
  try {
    const f = join(dir, 'page.1');
    writeFileSync(f, text);
    const r = spawnSync('man', ['--warnings', '-E', 'UTF-8', '-l', f], {
      encoding: 'utf8',
      env: { ...process.env, MANROFFSEQ: '', MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.length > 200, 'the page renders');
    return r.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the man pages render with no warning; each verb has its section with its options', () => {
  // The check can fail: a broken request is reported.
  assert.notEqual(manWarnings(`${renderManConf()}\n.nosuchrequest\n\\fB\\q\n`), '');
  for (const page of [renderManCli(), renderManDaemon(), renderManConf()]) assert.equal(manWarnings(page), '');
  const cli = renderManCli();
  for (const e of ENTRIES) {
    assert.ok(cli.includes(`.SS apt\\-ostree ${e.verb.map((w) => w.replace(/-/g, '\\-')).join(' ')}`), e.verb.join(' '));
    for (const o of cliOptions(e))
      assert.ok(cli.includes(`\\fB\\-\\-${o.long.replace(/-/g, '\\-')}\\fR`), `${e.verb.join(' ')} --${o.long}`);
  }
  assert.match(renderManConf(), /AutomaticUpdatePolicy/);
  assert.match(renderManDaemon(), /UpdateOverrides\(as, as, as, a\{sv\}\)/);
});

function complete(words: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'apt-ostree-completion-'));
  try {
    const f = join(dir, 'apt-ostree');
    writeFileSync(f, renderCompletion());
    const script = `source ${f}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})\nCOMP_CWORD=${words.length - 1}\n_apt_ostree\nprintf '%s\\n' "\${COMPREPLY[@]}"\n`;
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter((l) => l !== '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the bash completion offers the verbs, subverbs, the options of a verb and option values', () => {
  const verbs = complete(['apt-ostree', '']);
  for (const v of ['status', 'install', 'uninstall', 'override', 'upgrade', 'kargs', 'db', 'compose', 'cancel', 'reload'])
    assert.ok(verbs.includes(v), v);
  assert.ok(!verbs.includes('bootstatus'), 'hidden verbs are not offered');
  assert.deepEqual(complete(['apt-ostree', 'in']), ['initramfs', 'install']);
  assert.deepEqual(complete(['apt-ostree', '--sysroot', '/srv', 'override', '']).sort(), ['--help', 'remove', 'replace', 'reset']);
  const install = complete(['apt-ostree', 'install', '--']);
  for (const o of cliOptions(ENTRIES.find((e) => e.verb.join(' ') === 'install')!)) assert.ok(install.includes(`--${o.long}`), o.long);
  assert.deepEqual(complete(['apt-ostree', 'override', 'reset', '-']).sort(), [
    '--all',
    '--cache-only',
    '--dry-run',
    '--help',
    '--queue',
    '--reboot',
    '--unchanged-exit-77',
    '-C',
    '-a',
    '-n',
    '-r',
  ]);
  assert.deepEqual(complete(['apt-ostree', 'automatic-update', '--mode', '']), ['none', 'check', 'stage']);
  assert.deepEqual(complete(['apt-ostree', '--log-level', 'd']), ['debug']);
});
