/**
 * apply-live, install -A and usroverlay on a directory sysroot: every one is
 * refused with the reason (live changes need the booted system), in-process
 * and through the daemon, and nothing changes; status reports OSTree's
 * unlocked state (read by libostree through the addon: the run-state flag in
 * /run/ostree/deployment-state, or the origin's unlocked=hotfix that
 * `ostree admin unlock --hotfix` writes) and the live state apply-live
 * records in /run/apt-ostree/live. (`ostree admin unlock` itself works on
 * the booted deployment only: the QEMU steps in tests/e2e/live-steps.ts run it.)
 */
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../lib/env';
import { miniSysroot, type MiniSysroot } from '../lib/mini-sysroot';
import { runCliOnBus, startTestBus, type TestBus } from '../lib/bus';
import { LIVE_STATE_DIR } from '../../src/engine/live-state';

const REF = 'debian/12/x86_64/test';

interface Dep {
  checksum: string;
  serial: number;
  booted: boolean;
  unlocked: string;
  'live-replaced'?: string;
  'live-inprogress'?: string;
  'live-changes'?: { added: string[]; changed: string[]; removed: string[]; etc: string[] };
}

let s: MiniSysroot;
let c1: string;
let c2: string;
let id1: string;
let id2: string;

function statusJson(env: NodeJS.ProcessEnv = {}): Dep[] {
  const r = runCli(['--sysroot', s.path, 'status', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { deployments: Dep[] }).deployments;
}

describe('live changes on a directory sysroot', { timeout: 5 * 60_000 }, () => {
  before(() => {
    s = miniSysroot('live');
    c1 = s.commit('1.0');
    id1 = s.deploy(c1, `[origin]\nrefspec=${REF}\n`);
    c2 = s.commit('1.1');
    id2 = s.deploy(c2, `[origin]\nrefspec=${REF}\n`);
  });

  after(() => {
    rmSync(join('/run/ostree/deployment-state', id1), { recursive: true, force: true });
    rmSync(join(LIVE_STATE_DIR, `${id1}.json`), { force: true });
    s?.cleanup();
  });

  it('apply-live, apply-live --reset, install -A and usroverlay are refused in-process: live changes need the booted system', () => {
    const before = JSON.stringify(statusJson());
    for (const args of [
      ['apply-live'],
      ['apply-live', '--reset'],
      ['apply-live', '--target', c2],
      ['usroverlay'],
      ['install', '-A', 'htop'],
    ]) {
      const r = runCli(['--sysroot', s.path, ...args]);
      assert.notEqual(r.code, 0, `${args.join(' ')} must fail:\n${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /live changes need the booted system/, `${args.join(' ')}:\n${r.stderr}`);
      assert.match(r.stderr, /is a sysroot directory, not the running system; nothing changed/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal(JSON.stringify(statusJson()), before, 'the sysroot is as it was (no new deployment)');
  });

  it('apply-live checks its target before anything else: no pending deployment, unknown or unrelated commit, replaced files', () => {
    const before = JSON.stringify(statusJson());
    const live = (booted: string, ...args: string[]): { code: number; stderr: string } =>
      runCli(['--sysroot', s.path, 'apply-live', ...args], { env: { APT_OSTREE_TEST_BOOTED_DEPLOYMENT: booted } });
    // The default deployment booted: nothing is pending.
    let r = live(id2);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /there is no pending deployment to apply; nothing changed/, r.stderr);
    assert.match(r.stderr, /install -A/, r.stderr);
    // The older one booted: the pending one (1.1, a child commit of 1.0) changes the placeholder kernel.
    r = live(id1);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /apply-live would change or remove 2 files of the booted tree: changed \/usr\/lib\/modules\/6\.1\.0-test\/(initramfs\.img|vmlinuz)/,
      r.stderr,
    );
    assert.match(r.stderr, /--allow-replacement/, r.stderr);
    r = live(id1, '--target', 'no/such/ref');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no\/such\/ref is not a commit of the sysroot's repository/, r.stderr);
    const other = s.commit('9.0', { ref: 'other/unrelated/ref' });
    r = live(id1, '--target', other);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /is not built on the booted deployment's base .* \(nor on a descendant of it\); nothing changed/, r.stderr);
    // Allowed: then the running system is what is missing.
    r = live(id1, '--allow-replacement');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /live changes need the booted system/, r.stderr);
    r = live(id1, '--target', c2, '--allow-replacement');
    assert.match(r.stderr, /live changes need the booted system/, r.stderr);
    assert.equal(JSON.stringify(statusJson()), before, 'nothing changed');
  });

  it('a second apply-live while another operation holds the sysroot is refused as busy', async () => {
    const holder = spawn('flock', [join(s.path, 'ostree', 'apt-ostree.lock'), 'sleep', '60'], { stdio: 'ignore', detached: true });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const r = runCli(['--sysroot', s.path, 'apply-live'], { env: { APT_OSTREE_TEST_BOOTED_DEPLOYMENT: id1 } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /another apt-ostree operation is running/, r.stderr);
    } finally {
      // flock and its sleep (which inherited the locked descriptor) together.
      process.kill(-holder.pid!, 'SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
  });

  it('status: unlocked is none, and no live fields, on a deployment that was never unlocked', () => {
    for (const d of statusJson()) {
      assert.equal(d.unlocked, 'none');
      assert.equal(d['live-replaced'], undefined);
      assert.equal(d['live-inprogress'], undefined);
    }
  });

  it("status reports OSTree's transient unlock (the run-state flag libostree reads)", () => {
    const dir = join('/run/ostree/deployment-state', id1);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'unlocked-transient'), '');
    try {
      const d = statusJson().find((x) => `${x.checksum}.${x.serial}` === id1)!;
      assert.equal(d.unlocked, 'transient');
      const text = runCli(['--sysroot', s.path, 'status']).stdout;
      assert.match(text, /Unlocked: transient/, text);
      rmSync(join(dir, 'unlocked-transient'));
      writeFileSync(join(dir, 'unlocked-development'), '');
      assert.equal(statusJson().find((x) => `${x.checksum}.${x.serial}` === id1)!.unlocked, 'development');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(statusJson().find((x) => `${x.checksum}.${x.serial}` === id1)!.unlocked, 'none');
  });

  it('status reports a hotfix unlock (unlocked=hotfix in the origin); usroverlay then says which state the deployment is in', () => {
    const origin = join(s.path, 'ostree', 'deploy', 'debian', 'deploy', `${id1}.origin`);
    const saved = readFileSync(origin, 'utf8');
    appendFileSync(origin, 'unlocked=hotfix\n');
    try {
      assert.equal(statusJson().find((x) => `${x.checksum}.${x.serial}` === id1)!.unlocked, 'hotfix');
      const env = { APT_OSTREE_TEST_BOOTED_DEPLOYMENT: id1 };
      const r = runCli(['--sysroot', s.path, 'usroverlay'], { env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /already unlocked \(hotfix\); nothing changed/, r.stderr);
    } finally {
      writeFileSync(origin, saved);
    }
  });

  it('status reports the live state of the booted deployment: live-replaced, live-inprogress and what came live', () => {
    const env = { APT_OSTREE_TEST_BOOTED_DEPLOYMENT: id1 };
    mkdirSync(LIVE_STATE_DIR, { recursive: true });
    const file = join(LIVE_STATE_DIR, `${id1}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        commit: c2,
        added: ['/usr/bin/hello', '/usr/share/doc/hello'],
        changed: [],
        removed: [],
        etc: ['/etc/hello.conf'],
        time: 'now',
      }),
    );
    try {
      let d = statusJson(env).find((x) => x.booted)!;
      assert.equal(`${d.checksum}.${d.serial}`, id1);
      assert.equal(d['live-replaced'], c2);
      assert.equal(d['live-inprogress'], undefined);
      assert.deepEqual(d['live-changes']?.added, ['/usr/bin/hello', '/usr/share/doc/hello']);
      const text = runCli(['--sysroot', s.path, 'status'], { env }).stdout;
      assert.match(text, new RegExp(`LiveCommit: ${c2.slice(0, 10)}`), text);
      assert.match(text, /LiveChanges: 2 added, 0 changed, 0 removed, 1 new in \/etc/, text);
      assert.match(text, /LiveCommands: \/usr\/bin\/hello/, text);
      writeFileSync(file, JSON.stringify({ inprogress: c2, added: [], changed: [], removed: [], etc: [], time: 'now' }));
      d = statusJson(env).find((x) => x.booted)!;
      assert.equal(d['live-inprogress'], c2);
      assert.equal(d['live-replaced'], undefined);
      assert.match(runCli(['--sysroot', s.path, 'status'], { env }).stdout, /InterruptedLiveCommit/);
      // Not the booted deployment: no live state (it belongs to the running system).
      assert.equal(statusJson().find((x) => `${x.checksum}.${x.serial}` === id1)!['live-inprogress'], undefined);
    } finally {
      rmSync(file, { force: true });
    }
  });

  describe('through the daemon', () => {
    let tb: TestBus;
    before(async () => {
      tb = await startTestBus();
      await tb.startDaemon(s.path);
    });
    after(async () => {
      await tb?.stop();
    });

    it('ApplyLive, UsrOverlay and InstallPackages with apply-live are refused with the same reason; nothing changes', async () => {
      const before = JSON.stringify(statusJson());
      for (const args of [['apply-live'], ['apply-live', '--allow-replacement'], ['usroverlay', '--hotfix'], ['install', '-A', 'htop']]) {
        const r = await runCliOnBus(tb, ['--sysroot', s.path, ...args], { timeoutMs: 120_000 });
        assert.doesNotMatch(r.stderr, /running in-process/, 'through the daemon');
        assert.notEqual(r.code, 0, `${args.join(' ')}:\n${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /live changes need the booted system/, `${args.join(' ')}:\n${r.stderr}`);
      }
      assert.equal(JSON.stringify(statusJson()), before);
    });
  });
});
