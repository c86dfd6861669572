/**
 * apt-ostreed on a private system bus with the real dbus-daemon and polkitd
 * (tests/lib/bus.ts), serving a small directory sysroot: the D-Bus contract,
 * authorization as root and as unprivileged users, malformed calls, the
 * client's daemon path and its fallback, activation, idle exit, and the
 * shipped files.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gdbus, runCliOnBus, startTestBus, testUsers, type DaemonProcess, type TestBus, type TestUser } from '../lib/bus';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';
import { ROOT, removeTree, runCli, tmpdir } from '../lib/env';
import { DBusCallError, variantDict, type BusConnection } from '../../src/dbus/bus';
import {
  BUS_NAME,
  DAEMON_IFACE,
  DAEMON_INTERFACE,
  interfaceXml,
  OBJECT_PATH,
  POLKIT_ACTIONS,
  TRANSACTION_IFACE,
  TRANSACTION_INTERFACE,
} from '../../src/dbus/contract';
import { loadSysroot } from '../../src/engine/sysroot';
import { VERSION } from '../../src/engine/version';

let s: SysrootFixture;
let tb: TestBus;
let daemon: DaemonProcess;
let users: { granted: TestUser; plain: TestUser };

const call = (args: string[], user?: TestUser): ReturnType<typeof gdbus> =>
  gdbus(tb, ['call', '--system', '--dest', BUS_NAME, '--object-path', OBJECT_PATH, '--method', ...args], user);

async function withBus<T>(fn: (b: BusConnection) => Promise<T>): Promise<T> {
  const b = await tb.connect();
  try {
    return await fn(b);
  } finally {
    b.close();
  }
}

async function expectError(p: Promise<unknown>, name: RegExp, text?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DBusCallError, `a D-Bus error, got ${String(e)}`);
    assert.match(e.errorName, name);
    if (text) assert.match(e.message, text);
    return;
  }
  assert.fail('the call succeeded');
}

async function alive(): Promise<void> {
  assert.equal(call(['org.aptostree.dev.Daemon.Ping']).stdout.trim(), "('pong',)");
  assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
}

describe('apt-ostreed on a private bus', { timeout: 10 * 60 * 1000 }, () => {
  before(async () => {
    users = testUsers();
    s = await makeSysroot({ source: 'mini', kargs: ['root=/dev/vda'], prefix: 'daemon' });
    tb = await startTestBus();
    daemon = await tb.startDaemon(s.path, { env: { APT_OSTREE_DAEMON_LINGER: '2' } });
  });

  after(async () => {
    await tb?.stop();
    s?.cleanup();
  });

  it('is introspectable: every method, property and signal of the contract', () => {
    const r = gdbus(tb, ['introspect', '--system', '--dest', BUS_NAME, '--object-path', OBJECT_PATH]);
    assert.equal(r.code, 0, r.stderr);
    for (const m of DAEMON_INTERFACE.methods) assert.match(r.stdout, new RegExp(`\\b${m.name}\\(`), m.name);
    for (const p of ['Sysroot', 'Booted', 'ActiveTransaction', 'AutomaticUpdatePolicy', 'Version'])
      assert.match(r.stdout, new RegExp(`readonly \\w+ ${p} =`));
    assert.match(r.stdout, /InstallPackages\(in\s+as packages,\s+in\s+a\{sv\} options,\s+out o transaction\)/);
    assert.match(r.stdout, new RegExp(`Sysroot = '${s.path}'`));
    assert.match(r.stdout, /ActiveTransaction = '\/'/);
    // The root node leads to the object.
    const root = gdbus(tb, ['introspect', '--system', '--dest', BUS_NAME, '--object-path', '/org/aptostree']);
    assert.match(root.stdout, /node dev/);
  });

  it('Ping, GetStatus and properties answer everyone, root or not', () => {
    for (const u of [undefined, users.plain, users.granted]) {
      assert.equal(call(['org.aptostree.dev.Daemon.Ping'], u).stdout.trim(), "('pong',)");
      const st = call(['org.aptostree.dev.Daemon.GetStatus'], u);
      assert.equal(st.code, 0, st.stderr);
      const json = JSON.parse(/^\('(.*)',\)$/s.exec(st.stdout.trim())![1]!.replace(/\\'/g, "'")) as {
        deployments: Array<{ checksum: string }>;
        transaction: unknown;
      };
      assert.equal(json.deployments[0]!.checksum, s.checksum);
      assert.equal(json.transaction, null);
      const v = gdbus(
        tb,
        [
          'call',
          '--system',
          '--dest',
          BUS_NAME,
          '--object-path',
          OBJECT_PATH,
          '--method',
          'org.freedesktop.DBus.Properties.Get',
          DAEMON_IFACE,
          'Version',
        ],
        u,
      );
      assert.match(v.stdout, /<'0\.1\.0'>/);
    }
    const cli = runCli(['--sysroot', s.path, 'status', '--json'], { env: { ...tb.env } });
    assert.equal(cli.code, 0, cli.stderr);
  });

  it('status through the running daemon prints what the direct read prints, without loading the native addon', () => {
    // A preload that reports every native module the client loads.
    const dir = tmpdir('status-dlopen');
    const hook = join(dir, 'hook.js');
    writeFileSync(
      hook,
      "const o = process.dlopen; process.dlopen = function (m, f, ...r) { process.stderr.write('DLOPEN ' + f + '\\n'); return o.call(this, m, f, ...r); };\n",
    );
    try {
      for (const args of [['status'], ['status', '--json'], ['status', '-v'], ['status', '--booted', '--json']]) {
        const viaDaemon = runCli(['--sysroot', s.path, ...args], {
          env: { ...tb.env, APT_OSTREE_DIRECT: '', NODE_OPTIONS: `--require ${hook}` },
        });
        const direct = runCli(['--sysroot', s.path, ...args], {
          env: { ...tb.env, APT_OSTREE_DIRECT: '1', NODE_OPTIONS: `--require ${hook}` },
        });
        assert.equal(viaDaemon.code, 0, viaDaemon.stderr);
        assert.equal(direct.code, 0, direct.stderr);
        assert.equal(viaDaemon.stdout, direct.stdout, `apt-ostree ${args.join(' ')}`);
        assert.doesNotMatch(viaDaemon.stderr, /DLOPEN/, 'the daemon path loads no native addon');
        assert.match(direct.stderr, /DLOPEN .*ostree_addon\.node/, 'the direct path reads the sysroot with the addon');
      }
      const text = runCli(['--sysroot', s.path, 'status'], { env: { ...tb.env, APT_OSTREE_DIRECT: '' } }).stdout;
      assert.match(text, /^State: idle\n/);
      assert.match(text, new RegExp(`Commit: ${s.checksum.slice(0, 10)}\\n`));
      assert.match(text, /\(default\)/);
      const json = JSON.parse(runCli(['--sysroot', s.path, 'status', '--json'], { env: { ...tb.env, APT_OSTREE_DIRECT: '' } }).stdout) as {
        deployments: Array<Record<string, unknown>>;
      };
      assert.equal(json.deployments[0]!.checksum, s.checksum);
      assert.equal(json.deployments[0]!.default, true);
      assert.equal(typeof json.deployments[0]!['deploy-path'], 'string');
    } finally {
      removeTree(dir);
    }
  });

  it('changing methods: denied to a user without the grant, allowed to the granted group and to root', async () => {
    const before0 = (await loadSysroot(s.path)).deployments.length;
    const denied = call(['org.aptostree.dev.Daemon.ModifyKernelArgs', "['quiet']", '[]', '[]', '{}'], users.plain);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /org\.freedesktop\.DBus\.Error\.AccessDenied/);
    assert.match(denied.stderr, /not authorized for org\.aptostree\.dev\.modify-kernel-args/);
    // Through the CLI: the same refusal, clearly.
    const cliDenied = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append=quiet'], { user: users.plain });
    assert.equal(cliDenied.code, 1, cliDenied.stderr);
    assert.match(cliDenied.stderr, /not authorized/);
    assert.equal((await loadSysroot(s.path)).deployments.length, before0, 'nothing deployed');
    // Every action of the policy is refused to the plain user (one call each).
    for (const [m, args] of [
      ['InstallPackages', ["['htop']", '{}']],
      ['RemovePackages', ["['htop']", '{}']],
      ['UpgradeSystem', ['{}']],
      ['Rollback', ['{}']],
      ['Cleanup', ["['base']", '{}']],
      ['Rebase', ["'other'", '{}']],
      ['DeployCommit', ["'abc'", '{}']],
      ['SetInitramfsState', ['true', '[]', '{}']],
      ['Reset', ['{}']],
      ['RefreshMd', ['{}']],
      ['UpdateOverrides', ["['x']", '[]', '[]', '{}']],
      ['Reload', []],
      ['CancelActive', []],
    ] as const) {
      const r = call([`org.aptostree.dev.Daemon.${m}`, ...args], users.plain);
      if (m === 'CancelActive') {
        // Nothing to cancel is not a secret.
        assert.equal(r.code, 0, r.stderr);
        continue;
      }
      assert.match(r.stderr, /AccessDenied/, `${m}: ${r.stdout} ${r.stderr}`);
    }
    // The granted user, through the CLI and the daemon.
    const ok = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append=quiet'], { user: users.granted });
    assert.equal(ok.code, 0, `${ok.stdout}\n${ok.stderr}\n${daemon.log()}`);
    assert.doesNotMatch(ok.stderr, /in-process/);
    let sys = await loadSysroot(s.path);
    assert.equal(sys.deployments.length, before0 + 1);
    assert.deepEqual(sys.deployments[0]!.kargs, ['root=/dev/vda', 'quiet']);
    // Root, through the CLI: progress lines and the summary.
    const root = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--delete=quiet']);
    assert.equal(root.code, 0, root.stderr);
    sys = await loadSysroot(s.path);
    assert.deepEqual(sys.deployments[0]!.kargs, ['root=/dev/vda']);
    // No change, with --unchanged-exit-77, through the daemon.
    const same = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append-if-missing=root=/dev/vda', '--unchanged-exit-77']);
    assert.equal(same.code, 77, `${same.stdout}\n${same.stderr}`);
  });

  it('the shipped polkit policy declares every action the daemon checks, all auth_admin', () => {
    const policy = readFileSync(join(ROOT, 'data', 'org.aptostree.dev.policy'), 'utf8');
    for (const a of POLKIT_ACTIONS) {
      const m = new RegExp(`<action id="${a.replace(/\./g, '\\.')}">[\\s\\S]*?</action>`).exec(policy);
      assert.ok(m, `${a} is declared`);
      assert.equal((m[0].match(/auth_admin</g) ?? []).length, 3, `${a}: auth_admin for any, inactive, active`);
    }
    for (const a of [
      'install-packages',
      'remove-packages',
      'upgrade-system',
      'rollback',
      'modify-kernel-args',
      'initramfs',
      'rebase',
      'reset',
      'deploy',
      'cleanup',
      'cancel',
    ]) {
      assert.ok(POLKIT_ACTIONS.includes(`org.aptostree.dev.${a}`), a);
    }
    assert.equal(spawnSync('xmllint', ['--noout', join(ROOT, 'data', 'org.aptostree.dev.policy')]).status ?? 0, 0);
  });

  it('malformed calls get errors and the daemon stays up', async () => {
    // Wrong signature.
    await withBus((b) =>
      expectError(
        b.call({
          destination: BUS_NAME,
          path: OBJECT_PATH,
          interface: DAEMON_IFACE,
          member: 'InstallPackages',
          signature: 'sa{sv}',
          body: ['htop', {}],
        }),
        /org\.freedesktop\.DBus\.Error\.InvalidArgs/,
        /takes \(asa\{sv\}\), not \(sa\{sv\}\)/,
      ),
    );
    // Unknown option key, wrong option type; bad package names, relative .deb paths, bad cleanup targets, bad
    // kernel arguments. The reply of an engine error is (message, JSON {code, hint?, details?}) under the
    // error name of its code: a GLib client (gdbus) sees the name; our client rebuilds the error.
    let r = call(['org.aptostree.dev.Daemon.InstallPackages', "['htop']", "{'frobnicate': <true>}"]);
    assert.match(r.stderr, /org\.aptostree\.dev\.Error\.InvalidArguments/);
    await withBus(async (b) => {
      const base = { destination: BUS_NAME, path: OBJECT_PATH, interface: DAEMON_IFACE };
      const refused = async (member: string, signature: string, body: unknown[], text: RegExp): Promise<void> => {
        try {
          await b.call({ ...base, member, signature, body });
        } catch (e) {
          assert.ok(e instanceof DBusCallError, String(e));
          assert.equal(e.errorName, 'org.aptostree.dev.Error.InvalidArguments');
          assert.match(e.message, text);
          assert.equal((JSON.parse(e.data ?? '{}') as { code?: string }).code, 'usage', e.data);
          return;
        }
        assert.fail(`${member} succeeded`);
      };
      const o = (k: string, v: { signature: string; value: unknown }): Record<string, unknown> => variantDict({ [k]: v });
      await refused(
        'InstallPackages',
        'asa{sv}',
        [['htop'], o('frobnicate', { signature: 'b', value: true })],
        /^unknown option "frobnicate" for InstallPackages$/,
      );
      await refused(
        'InstallPackages',
        'asa{sv}',
        [['htop'], o('dry-run', { signature: 's', value: 'yes' })],
        /option "dry-run" of InstallPackages must be of type b \(got s\)/,
      );
      await refused('InstallPackages', 'asa{sv}', [['htop; rm -rf /'], {}], /is not a valid package name/);
      await refused('InstallPackages', 'asa{sv}', [['../x.deb'], {}], /absolute path/);
      await refused('Cleanup', 'asa{sv}', [['everything'], {}], /"everything" is not something to clean up/);
      await refused('ModifyKernelArgs', 'asasasa{sv}', [['a b'], [], [], {}], /--append: invalid kernel argument "a b"/);
    });
    r = call(['org.aptostree.dev.Daemon.NoSuchMethod']);
    assert.match(r.stderr, /UnknownMethod/);
    await withBus(async (b) => {
      const base = { destination: BUS_NAME, path: OBJECT_PATH, interface: DAEMON_IFACE };
      // A huge array, and a huge string.
      const many = Array.from({ length: 20000 }, (_, i) => `pkg${i}`);
      await expectError(
        b.call({ ...base, member: 'InstallPackages', signature: 'asa{sv}', body: [many, {}] }),
        /InvalidArguments/,
        /too many packages \(20000; at most 512\)/,
      );
      await expectError(
        b.call({ ...base, member: 'Rebase', signature: 'sa{sv}', body: ['x'.repeat(1 << 20), {}] }),
        /InvalidArguments/,
        /too long/,
      );
      // Control characters, a reserved key, an empty install.
      await expectError(
        b.call({ ...base, member: 'Rebase', signature: 'sa{sv}', body: ['a\u0001b', {}] }),
        /InvalidArguments/,
        /control characters/,
      );
      await expectError(
        b.call({ ...base, member: 'InstallPackages', signature: 'asa{sv}', body: [[], {}] }),
        /InvalidArguments/,
        /at least one package/,
      );
      await expectError(
        b.call({
          ...base,
          member: 'InstallPackages',
          signature: 'asa{sv}',
          body: [['htop'], variantDict({ queue: { signature: 'as', value: [] } })],
        }),
        /InvalidArguments/,
        /type b/,
      );
      // A transaction object that does not exist; Set on a read-only property.
      await expectError(
        b.call({ destination: BUS_NAME, path: '/org/aptostree/dev/transaction/999', interface: TRANSACTION_IFACE, member: 'Start' }),
        /UnknownObject/,
      );
      await expectError(
        b.call({
          ...base,
          interface: 'org.freedesktop.DBus.Properties',
          member: 'Set',
          signature: 'ssv',
          body: [DAEMON_IFACE, 'Sysroot', variantDict({ x: { signature: 's', value: '/' } }).x],
        }),
        /PropertyReadOnly/,
      );
    });
    await alive();
  });

  it('a transaction: Start by its client only, signals in order ending with Finished, result in the properties', async () => {
    await withBus(async (b) => {
      const owner = String((await b.busCall('GetNameOwner', 's', [BUS_NAME])).body[0]);
      const signals: Array<{ member: string; body: unknown[] }> = [];
      let tx = '';
      await b.addMatch(`type='signal',sender='${BUS_NAME}'`);
      b.on('signal', (m: { path?: string; member?: string; body: unknown[]; sender?: string }) => {
        if (m.sender === owner && m.path === tx) signals.push({ member: m.member!, body: m.body });
      });
      const r = await b.call({
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'ModifyKernelArgs',
        signature: 'asasasa{sv}',
        body: [['loglevel=3'], [], [], {}],
      });
      tx = String(r.body[0]);
      assert.match(tx, /^\/org\/aptostree\/dev\/transaction\/\d+$/);
      const prop = async (n: string): Promise<string> =>
        String(
          (
            (
              await b.call({
                destination: BUS_NAME,
                path: tx,
                interface: 'org.freedesktop.DBus.Properties',
                member: 'Get',
                signature: 'ss',
                body: [TRANSACTION_IFACE, n],
              })
            ).body[0] as { value: unknown }
          ).value,
        );
      assert.equal(await prop('State'), 'created');
      assert.equal(await prop('Title'), 'kargs');
      assert.equal(await prop('Method'), 'ModifyKernelArgs');
      assert.equal(await prop('InitiatingClient'), b.uniqueName);
      // Nothing runs before Start(): the daemon property names it, no signal yet.
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(signals.length, 0);
      assert.equal(
        call(['org.freedesktop.DBus.Properties.Get', DAEMON_IFACE, 'ActiveTransaction']).stdout.trim(),
        `(<objectpath '${tx}'>,)`,
      );
      // Another user may not start it.
      const other = gdbus(
        tb,
        ['call', '--system', '--dest', BUS_NAME, '--object-path', tx, '--method', `${TRANSACTION_IFACE}.Start`],
        users.granted,
      );
      assert.match(other.stderr, /AccessDenied/);
      const st = await b.call({ destination: BUS_NAME, path: tx, interface: TRANSACTION_IFACE, member: 'Start' });
      assert.equal(st.body[0], true);
      const end = Date.now() + 60000;
      while (!signals.some((x) => x.member === 'Finished') && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
      const names = signals.map((x) => x.member);
      assert.equal(names[names.length - 1], 'Finished', names.join(' '));
      assert.deepEqual(signals[signals.length - 1]!.body, [true, '']);
      // Task begin/end pairs, properly nested in order.
      let open = 0;
      for (const n of names) {
        if (n === 'TaskBegin') open++;
        if (n === 'TaskEnd') open--;
        assert.ok(open >= 0 && open <= 1, `order: ${names.join(' ')}`);
      }
      assert.ok(names.includes('TaskBegin'), names.join(' '));
      assert.equal(await prop('State'), 'succeeded');
      const result = JSON.parse(await prop('Result')) as { success: boolean; changed: boolean; summary: string };
      assert.equal(result.success, true);
      assert.equal(result.changed, true);
      // A second Start is harmless.
      assert.equal((await b.call({ destination: BUS_NAME, path: tx, interface: TRANSACTION_IFACE, member: 'Start' })).body[0], false);
      // The object lingers, then goes (APT_OSTREE_DAEMON_LINGER=2).
      await new Promise((res) => setTimeout(res, 2500));
      await expectError(prop('State'), /UnknownObject/);
    });
    const top = (await loadSysroot(s.path)).deployments[0]!;
    assert.ok(top.kargs.includes('loglevel=3'), top.kargs.join(' '));
    assert.equal(call(['org.freedesktop.DBus.Properties.Get', DAEMON_IFACE, 'ActiveTransaction']).stdout.trim(), "(<objectpath '/'>,)");
  });

  it('a transaction whose client leaves before Start() is dropped; a different request meanwhile is Busy', async () => {
    const before0 = (await loadSysroot(s.path)).deployments.length;
    const b = await tb.connect();
    const r = await b.call({
      destination: BUS_NAME,
      path: OBJECT_PATH,
      interface: DAEMON_IFACE,
      member: 'Rollback',
      signature: 'a{sv}',
      body: [{}],
    });
    const tx = String(r.body[0]);
    await withBus(async (b2) => {
      await expectError(
        b2.call({
          destination: BUS_NAME,
          path: OBJECT_PATH,
          interface: DAEMON_IFACE,
          member: 'Cleanup',
          signature: 'asa{sv}',
          body: [['base'], {}],
        }),
        /org\.aptostree\.dev\.Error\.Busy/,
        new RegExp(`"rollback" \\(${tx.replace(/\//g, '\\/')}`),
      );
      // The identical request joins.
      const j = await b2.call({
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'Rollback',
        signature: 'a{sv}',
        body: [{}],
      });
      assert.equal(j.body[0], tx);
    });
    // Both clients gone: dropped.
    b.close();
    const end = Date.now() + 5000;
    while (
      Date.now() < end &&
      !/objectpath '\/'>/.test(call(['org.freedesktop.DBus.Properties.Get', DAEMON_IFACE, 'ActiveTransaction']).stdout)
    )
      await new Promise((res) => setTimeout(res, 100));
    assert.equal(call(['org.freedesktop.DBus.Properties.Get', DAEMON_IFACE, 'ActiveTransaction']).stdout.trim(), "(<objectpath '/'>,)");
    await new Promise((res) => setTimeout(res, 300)); // let its log arrive
    assert.match(daemon.log(), /dropping transaction \d+ \(rollback\): its client :[\d.]+ left before Start\(\)/);
    assert.equal((await loadSysroot(s.path)).deployments.length, before0);
    await alive();
  });

  it('a kind the engine has not built fails with its not-implemented error (when there is one), never pretends', async () => {
    // Every changing method gets a transaction that runs the engine: a failure carries the engine's text.
    const r = await runCliOnBus(tb, ['--sysroot', s.path, 'rebase', 'no-such-remote:no/such/ref']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: /m);
    assert.doesNotMatch(r.stderr, /internal error/);
    await alive();
  });

  it('apt-ostree cancel with nothing in progress; a client for another sysroot falls back (root) with a notice', async () => {
    const c = await runCliOnBus(tb, ['--sysroot', s.path, 'cancel']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /No transaction in progress/);
    const other = await makeSysroot({ source: 'mini', prefix: 'daemon-other' });
    try {
      // status of another sysroot than the daemon's: read directly, that sysroot's deployments.
      const st = await runCliOnBus(tb, ['--sysroot', other.path, 'status', '--json']);
      assert.equal(st.code, 0, st.stderr);
      assert.equal(st.stdout, runCli(['--sysroot', other.path, 'status', '--json']).stdout);
      assert.match(st.stdout, new RegExp(`"deploy-path": "${other.path}/`));
      const r = await runCliOnBus(tb, ['--sysroot', other.path, 'kargs', '--append=quiet']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^apt-ostree: the apt-ostree daemon serves .*, not .*; running in-process$/m);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      const nr = await runCliOnBus(tb, ['--sysroot', other.path, 'kargs', '--append=x=1'], { user: users.granted });
      assert.equal(nr.code, 1);
      assert.match(nr.stderr, /only root can change the system without it/);
    } finally {
      other.cleanup();
    }
  });

  it('the configuration: bad values are logged and ignored; the daemon exits when idle', async () => {
    const conf = tb.writeConfig(
      '[Daemon]\nLogLevel=chatty\nIdleExitTimeout=1\nTransactionTimeout=soon\nAutomaticUpdatePolicy=sometimes\nBogus=1\n',
    );
    // A second daemon cannot own the name while the first runs.
    const other = await makeSysroot({ source: 'mini', prefix: 'daemon-idle' });
    try {
      daemon.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
      const d = await tb.startDaemon(other.path, { config: conf });
      const code = await Promise.race([d.exited, new Promise((res) => setTimeout(() => res('still running'), 8000))]);
      assert.equal(code, 0, d.log());
      const log = d.log();
      assert.match(log, /\[Daemon\] LogLevel=chatty is not one of error, warning, notice, info, debug; keeping info/);
      assert.match(log, /\[Daemon\] TransactionTimeout=soon is not a number of seconds; keeping 3600/);
      assert.match(log, /AutomaticUpdatePolicy=sometimes/);
      assert.match(log, /unknown key \[Daemon\] Bogus/);
      assert.match(log, /idle for 1 s with no transaction: exiting/);
    } finally {
      other.cleanup();
      daemon = await tb.startDaemon(s.path, { env: { APT_OSTREE_DAEMON_LINGER: '2' } });
    }
  });
  it('serves the introspection of the registry, as committed in data/org.aptostree.dev.xml', async () => {
    const committed = readFileSync(join(ROOT, 'data', 'org.aptostree.dev.xml'), 'utf8');
    await withBus(async (b) => {
      const introspect = async (path: string): Promise<string> =>
        String(
          (await b.call({ destination: BUS_NAME, path, interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' })).body[0],
        );
      const daemonXml = await introspect(OBJECT_PATH);
      assert.ok(daemonXml.includes(interfaceXml(DAEMON_INTERFACE)), daemonXml);
      assert.ok(committed.includes(interfaceXml(DAEMON_INTERFACE)), 'the committed XML is the served one');
      // A transaction object serves the other interface of the committed text.
      const r = await b.call({
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'Rollback',
        signature: 'a{sv}',
        body: [{}],
      });
      const txXml = await introspect(String(r.body[0]));
      assert.ok(txXml.includes(interfaceXml(TRANSACTION_INTERFACE)), txXml);
      assert.ok(committed.includes(interfaceXml(TRANSACTION_INTERFACE)));
    });
    // The unstarted transaction goes with this connection.
    const end = Date.now() + 5000;
    while (
      Date.now() < end &&
      !/objectpath '\/'>/.test(call(['org.freedesktop.DBus.Properties.Get', DAEMON_IFACE, 'ActiveTransaction']).stdout)
    )
      await new Promise((res) => setTimeout(res, 100));
  });

  it('errors reach the user as the engine made them: the daemon path prints what the in-process path prints', async () => {
    const cases: string[][] = [
      ['install', 'no-such-package-xyz'],
      ['install', './no-such-file.deb'],
      ['deploy', 'not-a-revision'],
      ['deploy', 'a b'],
      ['kargs', '--append', 'a b'],
      ['override', 'remove', 'Bad_Name'],
      ['pin', '9'],
    ];
    for (const args of cases) {
      const viaDaemon = await runCliOnBus(tb, ['--sysroot', s.path, ...args]);
      const direct = runCli(['--sysroot', s.path, ...args], { env: { ...tb.env, APT_OSTREE_DIRECT: '1' } });
      // Scratch directories have random names: the rest must be the same, line for line.
      const lines = (t: string): string[] =>
        t
          .split('\n')
          .filter((l) => l !== '' && !/^apt-ostree: .*; running in-process$/.test(l))
          .map((l) => l.replace(/(apt-ostree-[a-z]+-)[A-Za-z0-9]{6}\b/g, '$1XXXXXX'));
      assert.equal(viaDaemon.code, 1, `${args.join(' ')}: ${viaDaemon.stdout}${viaDaemon.stderr}`);
      assert.equal(direct.code, 1, `${args.join(' ')}: ${direct.stdout}${direct.stderr}`);
      assert.match(viaDaemon.stderr, /^error: /, args.join(' '));
      assert.doesNotMatch(viaDaemon.stderr, /internal error|\n\s+at /, args.join(' '));
      assert.deepEqual(lines(viaDaemon.stderr), lines(direct.stderr), args.join(' '));
    }
    await alive();
  });

  it("a reboot is the runner's: on a sysroot that is not the running system, the daemon says it does not reboot", async () => {
    const r = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append=reboot-test=1', '-r']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\nNot rebooting: ${s.path.replace(/[/.]/g, '\\$&')} is not the running system\\n$`));
    const d = runCli(['--sysroot', s.path, 'kargs', '--delete=reboot-test=1', '-r'], { env: { ...tb.env, APT_OSTREE_DIRECT: '1' } });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /\nNot rebooting: .* is not the running system\n$/);
  });
});

describe('activation and the fallback', { timeout: 5 * 60 * 1000 }, () => {
  it('a client starts an activatable daemon through the bus; without one, root runs in-process and others are told', async () => {
    const users2 = testUsers();
    const sys = await makeSysroot({ source: 'mini', prefix: 'daemon-act' });
    const bus = await startTestBus({ activation: { sysroot: sys.path, config: '[Daemon]\nIdleExitTimeout=30\n' } });
    const hasOwner = (): string =>
      gdbus(bus, [
        'call',
        '--system',
        '--dest',
        'org.freedesktop.DBus',
        '--object-path',
        '/org/freedesktop/DBus',
        '--method',
        'org.freedesktop.DBus.NameHasOwner',
        BUS_NAME,
      ]).stdout.trim();
    try {
      // status never starts the daemon: it reads the sysroot itself, as the direct path does.
      for (const args of [['status'], ['status', '--json']]) {
        const st = await runCliOnBus(bus, ['--sysroot', sys.path, ...args]);
        assert.equal(st.code, 0, st.stderr);
        assert.equal(st.stdout, runCli(['--sysroot', sys.path, ...args]).stdout);
        assert.equal(hasOwner(), '(false,)', 'status started the daemon');
      }
      const r = await runCliOnBus(bus, ['--sysroot', sys.path, 'kargs', '--append=quiet']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /in-process/);
      assert.equal(
        gdbus(bus, [
          'call',
          '--system',
          '--dest',
          'org.freedesktop.DBus',
          '--object-path',
          '/org/freedesktop/DBus',
          '--method',
          'org.freedesktop.DBus.NameHasOwner',
          BUS_NAME,
        ]).stdout.trim(),
        '(true,)',
      );
    } finally {
      await bus.stop();
    }
    const bare = await startTestBus({ polkit: false });
    try {
      const r = await runCliOnBus(bare, ['--sysroot', sys.path, 'kargs', '--append=x=1']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stderr,
        'apt-ostree: the apt-ostree daemon (org.aptostree.dev) is neither running nor activatable; running in-process\n',
      );
      const nr = await runCliOnBus(bare, ['--sysroot', sys.path, 'kargs', '--append=y=1'], { user: users2.plain });
      assert.equal(nr.code, 1);
      assert.match(
        nr.stderr,
        /error: the apt-ostree daemon \(org\.aptostree\.dev\) is neither running nor activatable, and only root can change the system without it\nhint: /,
      );
    } finally {
      await bare.stop();
      sys.cleanup();
    }
  });
});

describe('shipped files and the installer', () => {
  it('the unit keeps block devices and foreign-architecture system calls usable (no ProtectClock=, no SystemCallArchitectures=)', () => {
    const unit = readFileSync(join(ROOT, 'data', 'apt-ostreed.service'), 'utf8');
    const set = unit.split('\n').filter((l) => !l.startsWith('#'));
    assert.ok(!set.some((l) => /^ProtectClock=|^SystemCallArchitectures=|^DeviceAllow=|^DevicePolicy=/.test(l)), set.join('\n'));
    assert.ok(set.includes('ProtectKernelLogs=yes') && set.includes('LockPersonality=yes'));
  });

  it('install-daemon.sh installs the seed paths into a DESTDIR, touching nothing else; systemd-analyze verify accepts the unit', () => {
    const dir = tmpdir('install-daemon');
    try {
      const dest = join(dir, 'root');
      const r = spawnSync('sh', [join(ROOT, 'scripts', 'install-daemon.sh'), '--destdir', dest], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /8\/8 services\ninstall-daemon: {5}destination directory: nothing started or enabled/);
      for (const p of [
        'usr/bin/apt-ostree',
        'usr/libexec/apt-ostreed',
        'usr/share/dbus-1/system-services/org.aptostree.dev.service',
        'usr/share/polkit-1/actions/org.aptostree.dev.policy',
        'etc/apt-ostree/apt-ostreed.conf',
        'etc/dbus-1/system.d/org.aptostree.dev.conf',
        'etc/systemd/system/apt-ostreed.service',
        'var/lib/apt-ostree',
        'var/cache/apt-ostree',
        'var/log/apt-ostree',
        'usr/lib/apt-ostree/dist/bundle/apt-ostree.js',
        'usr/lib/apt-ostree/dist/bundle/cli.js',
        'usr/lib/apt-ostree/dist/bundle/apt-ostreed.js',
        'usr/lib/apt-ostree/dist/bundle/overlay-run.js',
        'usr/lib/apt-ostree/native/build/Release/ostree_addon.node',
        'usr/share/man/man1/apt-ostree.1.gz',
        'usr/share/man/man8/apt-ostreed.8.gz',
        'usr/share/man/man5/apt-ostreed.conf.5.gz',
        'usr/share/bash-completion/completions/apt-ostree',
        'usr/share/dbus-1/interfaces/org.aptostree.dev.xml',
      ]) {
        assert.ok(existsSync(join(dest, p)), p);
      }
      // The bundles hold their npm dependencies: no node_modules, and the installed copy runs.
      assert.ok(!existsSync(join(dest, 'usr/lib/apt-ostree/node_modules')));
      const installed = (args: string[]): ReturnType<typeof spawnSync> =>
        spawnSync(process.execPath, [join(dest, 'usr/lib/apt-ostree/bin/apt-ostree'), ...args], { encoding: 'utf8', cwd: dir });
      const version = installed(['--version']);
      assert.equal(version.status, 0, String(version.stderr));
      assert.equal(String(version.stdout).trim(), VERSION);
      const help = installed(['compose', 'tree', '--help']);
      assert.equal(help.status, 0, String(help.stderr));
      assert.match(String(help.stdout), /^Usage: apt-ostree compose tree/);
      const daemonHelp = spawnSync(process.execPath, [join(dest, 'usr/lib/apt-ostree/bin/apt-ostreed'), '--help'], { encoding: 'utf8' });
      assert.equal(daemonHelp.status, 0, String(daemonHelp.stderr));
      const act = readFileSync(join(dest, 'usr/share/dbus-1/system-services/org.aptostree.dev.service'), 'utf8');
      assert.match(act, /^SystemdService=apt-ostreed\.service$/m);
      assert.match(act, /^Exec=\/usr\/libexec\/apt-ostreed$/m);
      const unit = readFileSync(join(dest, 'etc/systemd/system/apt-ostreed.service'), 'utf8');
      assert.match(unit, /^Type=dbus$/m);
      assert.match(unit, /^BusName=org\.aptostree\.dev$/m);
      // The shipped configuration parses with no problem, to the documented defaults.
      const cfg = spawnSync(
        process.execPath,
        [
          '-e',
          `const c=require(${JSON.stringify(join(ROOT, 'dist/src/engine/config.js'))});console.log(JSON.stringify(c.loadDaemonConfig(process.argv[1])))`,
          join(dest, 'etc/apt-ostree/apt-ostreed.conf'),
        ],
        { encoding: 'utf8' },
      );
      const parsed = JSON.parse(cfg.stdout) as { config: Record<string, unknown>; problems: string[] };
      assert.deepEqual(parsed.problems, []);
      assert.deepEqual(parsed.config, {
        logLevel: 'info',
        idleExitTimeout: 60,
        automaticUpdatePolicy: 'none',
        automaticUpdateScope: 'full',
        transactionTimeout: 3600,
      });
      // A second run keeps a local configuration.
      const again = spawnSync('sh', [join(ROOT, 'scripts', 'install-daemon.sh')], {
        encoding: 'utf8',
        env: { ...process.env, DESTDIR: dest },
      });
      assert.equal(again.status, 0, again.stderr);
      assert.ok(existsSync(join(dest, 'etc/apt-ostree/apt-ostreed.conf.dist')));
      // systemd-analyze verify in a root made of the DESTDIR plus what the unit refers to
      // (the units it depends on, /bin/kill), as on an installed system.
      const vroot = join(dir, 'verify');
      cpSync(dest, vroot, { recursive: true });
      mkdirSync(join(vroot, 'usr/lib/systemd'), { recursive: true });
      cpSync('/usr/lib/systemd/system', join(vroot, 'usr/lib/systemd/system'), { recursive: true, dereference: false });
      cpSync('/usr/bin/kill', join(vroot, 'usr/bin/kill'));
      symlinkSync('usr/bin', join(vroot, 'bin'));
      const v = spawnSync('systemd-analyze', ['verify', `--root=${vroot}`, '/etc/systemd/system/apt-ostreed.service'], {
        encoding: 'utf8',
      });
      assert.equal(v.status, 0, `${v.stdout}\n${v.stderr}`);
      assert.equal(
        v.stderr
          .split('\n')
          .filter((l) => /apt-ostreed\.service/.test(l))
          .join('\n'),
        '',
      );
      // The D-Bus policy: only root owns the name, anyone may call.
      const pol = readFileSync(join(dest, 'etc/dbus-1/system.d/org.aptostree.dev.conf'), 'utf8');
      assert.match(pol, /<policy user="root">\s*<allow own="org\.aptostree\.dev"\/>/);
      assert.match(pol, /<policy context="default">\s*<allow send_destination="org\.aptostree\.dev"\/>/);
      assert.equal((pol.match(/allow own=/g) ?? []).length, 1);
    } finally {
      removeTree(dir);
    }
  });
});
