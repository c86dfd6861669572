/**
 * Automatic updates through the real daemon: apt-ostreed on a private system
 * bus with dbus-daemon and polkitd (tests/lib/bus.ts), serving a small
 * directory sysroot whose remote is an archive repo on loopback HTTP.
 *
 * `apt-ostree automatic-update --trigger` (what apt-ostreed-automatic.service
 * runs) with AutomaticUpdatePolicy=check, then stage after `apt-ostree
 * reload`; `status` before and after; a bad policy value on reload; the
 * policy none; an unprivileged user (denied the trigger and the reload,
 * allowed to read the properties).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gdbus, runCliOnBus, startTestBus, testUsers, type DaemonProcess, type TestBus, type TestUser } from '../lib/bus';
import { sh } from '../lib/env';
import { runAsync, serveDirectory, type RepoServer } from '../lib/http-repo';
import { miniSysroot, type MiniSysroot } from '../lib/mini-sysroot';
import type { BusConnection, DBusMessage } from '../../src/dbus/bus';
import { BUS_NAME, DAEMON_IFACE, OBJECT_PATH } from '../../src/dbus/contract';
import { META_PACKAGES } from '../../src/engine/ostree/metadata';

const REF = 'debian/12/x86_64/test';
let s: MiniSysroot;
let archive: string;
let server: RepoServer;
let tb: TestBus;
let daemon: DaemonProcess;
let conf: string;
let users: { granted: TestUser; plain: TestUser };
/** A connection that records the daemon's PropertiesChanged signals. */
let watcher: BusConnection;
const changes: Record<string, unknown>[] = [];

type Pkgs = [string, string, string][];
const BASE1: Pkgs = [
  ['bash', '5.2.15-2+b2', 'amd64'],
  ['libssl3', '3.0.11-1~deb12u1', 'amd64'],
];
const BASE2: Pkgs = [['bash', '5.2.15-2+b7', 'amd64'], BASE1[1]!];

function setConfig(policy: string, scope = 'full'): void {
  // IdleExitTimeout=0: the daemon must stay for the whole file.
  writeFileSync(conf, `[Daemon]\nIdleExitTimeout=0\nAutomaticUpdatePolicy=${policy}\nAutomaticUpdateScope=${scope}\n`);
}

/** The CLI as root, through the daemon (no APT_OSTREE_CONFIG: what status shows comes from the daemon). */
async function cli(args: string[], user?: TestUser): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runCliOnBus(tb, ['--sysroot', s.path, ...args], {
    user,
    env: { APT_OSTREE_CONFIG: join(tb.dir, 'no-such.conf') },
    timeoutMs: 120000,
  });
  assert.doesNotMatch(r.stderr, /running in-process/, 'the command went through the daemon');
  return r;
}

interface StatusJson {
  deployments: { version: string | null; checksum: string }[];
  'automatic-updates': { policy: string; scope: string; 'last-run': { result: string; message: string; mode: string } | null };
  'cached-update': { version: string; checksum: string; diff: { upgraded: { name: string; from: string; to: string }[] } } | null;
}

async function statusJson(): Promise<StatusJson> {
  const r = await cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
}

async function prop(name: string): Promise<string> {
  const r = await watcher.call({
    destination: BUS_NAME,
    path: OBJECT_PATH,
    interface: 'org.freedesktop.DBus.Properties',
    member: 'Get',
    signature: 'ss',
    body: [DAEMON_IFACE, name],
  });
  return String((r.body[0] as { value: unknown }).value);
}

/** Waits until a PropertiesChanged carrying `name` (with `value`, when given) has been seen. */
async function changed(name: string, value?: (v: string) => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (changes.some((c) => name in c && (value === undefined || value(String((c[name] as { value: unknown }).value))))) return;
    if (Date.now() > end) assert.fail(`no PropertiesChanged for ${name}; seen: ${JSON.stringify(changes)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function alive(): Promise<void> {
  assert.equal(daemon.child.exitCode, null, `the daemon is still running\n${daemon.log()}`);
  const r = await watcher.call({ destination: BUS_NAME, path: OBJECT_PATH, interface: DAEMON_IFACE, member: 'Ping' });
  assert.equal(r.body[0], 'pong');
}

describe('automatic updates through apt-ostreed', { timeout: 5 * 60 * 1000 }, () => {
  before(async () => {
    users = testUsers();
    s = miniSysroot('auto-daemon');
    archive = join(s.path, '..', 'archive');
    sh('ostree', ['init', '--mode=archive', `--repo=${archive}`]);
    s.commit('12.1', { repo: archive, metadata: { [META_PACKAGES]: JSON.stringify(BASE1) } });
    server = await serveDirectory(archive);
    sh('ostree', ['remote', 'add', `--repo=${s.repo}`, '--no-gpg-verify', 'origin', server.url]);
    const pull = await runAsync('ostree', ['pull', `--repo=${s.repo}`, 'origin', REF]);
    assert.equal(pull.code, 0, pull.stderr);
    s.deploy(sh('ostree', ['rev-parse', `--repo=${s.repo}`, `origin:${REF}`]).trim(), `[origin]\nrefspec=origin:${REF}\n`);
    tb = await startTestBus();
    conf = join(tb.dir, 'apt-ostreed.conf');
    setConfig('check');
    daemon = await tb.startDaemon(s.path, { config: conf });
    watcher = await tb.connect();
    await watcher.addMatch(
      `type='signal',sender='${BUS_NAME}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='${OBJECT_PATH}'`,
    );
    watcher.on('signal', (m: DBusMessage) => {
      if (m.member === 'PropertiesChanged' && m.path === OBJECT_PATH && m.body[0] === DAEMON_IFACE)
        changes.push(m.body[1] as Record<string, unknown>);
    });
  });

  after(async () => {
    watcher?.close();
    await tb?.stop();
    await server?.close();
    s?.cleanup();
  });

  it('properties: the policy and scope in force, no last run yet', async () => {
    assert.equal(await prop('AutomaticUpdatePolicy'), 'check');
    assert.equal(await prop('AutomaticUpdateScope'), 'full');
    assert.equal(await prop('AutomaticUpdateLastRun'), '');
    const text = await cli(['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^AutomaticUpdates: check; not run yet$/m,
      'the policy comes from the daemon (the CLI has no configuration file)',
    );
    assert.doesNotMatch(text.stdout, /AvailableUpdate/);
  });

  it('check: the trigger (as the timer service runs it) finds the newer base; status shows AvailableUpdate and the last run', async () => {
    const before0 = await statusJson();
    assert.equal(before0.deployments.length, 1);
    assert.equal(before0['cached-update'], null);
    assert.equal(before0['automatic-updates'].policy, 'check');

    s.commit('12.2', { repo: archive, metadata: { [META_PACKAGES]: JSON.stringify(BASE2) } });
    changes.length = 0;
    const r = await cli(['automatic-update', '--trigger']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /AvailableUpdate:/);
    assert.match(daemon.log(), /transaction \d+ \(.*\) created/, 'the daemon ran it as a transaction');

    const st = await statusJson();
    assert.equal(st.deployments.length, 1, 'check deploys nothing');
    assert.equal(st['cached-update']?.version, '12.2');
    assert.deepEqual(st['cached-update']?.diff.upgraded, [{ name: 'bash', arch: 'amd64', from: '5.2.15-2+b2', to: '5.2.15-2+b7' }]);
    assert.equal(st['automatic-updates']['last-run']?.result, 'update-available');
    assert.equal(st['automatic-updates']['last-run']?.mode, 'check');
    const text = (await cli(['status'])).stdout;
    assert.match(text, /^AutomaticUpdates: check; last run \d+s ago: update available: version 12\.2 \(1 upgraded\)$/m);
    assert.match(
      text,
      /^AvailableUpdate:\n {6}Version: 12\.2 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)\n {7}Commit: [0-9a-f]{64}\n {9}Diff: 1 upgraded\n {15}bash 5\.2\.15-2\+b2 -> 5\.2\.15-2\+b7$/m,
    );

    // The last run is a property, announced when it changes.
    await changed('AutomaticUpdateLastRun', (v) => v.includes('update-available'));
    const last = JSON.parse(await prop('AutomaticUpdateLastRun')) as { result: string; mode: string; scope: string; message: string };
    assert.deepEqual([last.result, last.mode, last.scope], ['update-available', 'check', 'full']);
    assert.match(last.message, /version 12\.2/);
  });

  it('a bad policy value on reload: logged with key and value, the previous policy kept, the daemon carries on', async () => {
    writeFileSync(conf, '[Daemon]\nIdleExitTimeout=0\nAutomaticUpdatePolicy=sometimes\n');
    const r = await cli(['reload']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /\[Daemon\] AutomaticUpdatePolicy=sometimes is not one of none, check, stage; keeping "check"/);
    assert.match(daemon.log(), /AutomaticUpdatePolicy=sometimes is not one of none, check, stage; keeping "check"/);
    await alive();
    assert.equal(await prop('AutomaticUpdatePolicy'), 'check');
    assert.match((await cli(['status'])).stdout, /^AutomaticUpdates: check; last run/m);
    // The same over D-Bus directly: Reload() returns the problems.
    const reply = await watcher.call({ destination: BUS_NAME, path: OBJECT_PATH, interface: DAEMON_IFACE, member: 'Reload' });
    assert.equal(reply.signature, 'as');
    assert.equal((reply.body[0] as string[]).length, 1);
    // A file that is not a key file at all: everything kept.
    writeFileSync(conf, 'AutomaticUpdatePolicy=stage\n');
    const r2 = await cli(['reload']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /keeping the previous settings/);
    await alive();
    assert.equal(await prop('AutomaticUpdatePolicy'), 'check');
  });

  it('stage after reload: the trigger stages a new deployment of the newer base', async () => {
    setConfig('stage');
    changes.length = 0;
    const r = await cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Configuration reloaded\.$/m);
    await changed('AutomaticUpdatePolicy', (v) => v === 'stage');
    assert.equal(await prop('AutomaticUpdatePolicy'), 'stage');

    const t = await cli(['automatic-update', '--trigger']);
    assert.equal(t.code, 0, t.stderr);
    const st = await statusJson();
    assert.equal(st.deployments.length, 2, 'a new deployment');
    assert.equal(st.deployments[0]!.version, '12.2', 'the newer base is the default');
    assert.equal(st.deployments[1]!.version, '12.1');
    assert.equal(st['cached-update'], null);
    assert.equal(st['automatic-updates']['last-run']?.result, 'staged');
    assert.match(
      (await cli(['status'])).stdout,
      /^AutomaticUpdates: stage; last run \d+s ago: staged version 12\.2 \(1 upgraded\); ready at the next boot$/m,
    );
    await changed('AutomaticUpdateLastRun', (v) => v.includes('"staged"'));
  });

  it('an unprivileged user cannot trigger or reload (AccessDenied) but reads the properties and the status', async () => {
    const denied = await cli(['automatic-update', '--trigger'], users.plain);
    assert.equal(denied.code, 1, denied.stdout);
    assert.match(denied.stderr, /not authorized for org\.aptostree\.dev\.upgrade-system/);
    const raw = gdbus(
      tb,
      ['call', '--system', '--dest', BUS_NAME, '--object-path', OBJECT_PATH, '--method', `${DAEMON_IFACE}.AutomaticUpdateTrigger`, '{}'],
      users.plain,
    );
    assert.notEqual(raw.code, 0);
    assert.match(raw.stderr, /org\.freedesktop\.DBus\.Error\.AccessDenied/);
    const reload = await cli(['reload'], users.plain);
    assert.equal(reload.code, 1);
    assert.match(reload.stderr, /not authorized for org\.aptostree\.dev\.reload-daemon/);

    const get = (name: string): string =>
      gdbus(
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
          name,
        ],
        users.plain,
      ).stdout;
    assert.match(get('AutomaticUpdatePolicy'), /<'stage'>/);
    assert.match(get('AutomaticUpdateScope'), /<'full'>/);
    assert.match(get('AutomaticUpdateLastRun'), /"result":"staged"/);
    const st = gdbus(
      tb,
      ['call', '--system', '--dest', BUS_NAME, '--object-path', OBJECT_PATH, '--method', `${DAEMON_IFACE}.GetStatus`],
      users.plain,
    );
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /"automatic-updates":\{"policy":"stage","scope":"full","last-run":\{/);
    assert.equal((await statusJson()).deployments.length, 2, 'nothing changed');
  });

  it('policy none: the trigger answers (false, "/") and makes no transaction', async () => {
    setConfig('none');
    assert.equal((await cli(['reload'])).code, 0);
    const raw = gdbus(tb, [
      'call',
      '--system',
      '--dest',
      BUS_NAME,
      '--object-path',
      OBJECT_PATH,
      '--method',
      `${DAEMON_IFACE}.AutomaticUpdateTrigger`,
      '{}',
    ]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout.trim(), "(false, objectpath '/')");
    const r = await cli(['automatic-update', '--trigger']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Automatic updates are disabled \(AutomaticUpdatePolicy=none\); nothing to do\./);
    assert.match((await cli(['status'])).stdout, /^AutomaticUpdates: disabled; last run/m);
    // A mode given for one run overrides the policy, through the daemon too.
    s.commit('12.3', { repo: archive, metadata: { [META_PACKAGES]: JSON.stringify(BASE2) } });
    const once = await cli(['automatic-update', '--trigger', '--mode', 'check']);
    assert.equal(once.code, 0, once.stderr);
    assert.equal((await statusJson())['cached-update']?.version, '12.3');
    await alive();
  });

  it('SIGHUP (systemctl reload apt-ostreed) reloads the configuration as Reload() does', async () => {
    setConfig('check', 'security');
    changes.length = 0;
    daemon.kill('SIGHUP');
    await changed('AutomaticUpdateScope', (v) => v === 'security');
    assert.equal(await prop('AutomaticUpdatePolicy'), 'check');
    assert.match((await cli(['status'])).stdout, /^AutomaticUpdates: check \(security only\); last run/m);
    await alive();
  });
});
