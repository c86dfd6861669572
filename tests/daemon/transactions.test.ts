/**
 * Transactions of apt-ostreed under load, with a real long operation:
 * layering fixture packages (one with a slow maintainer script) on the
 * composed Debian base, through the daemon on a private bus with polkitd.
 * Ten clients at once; Cancel in the middle; the daemon SIGKILLed in the
 * middle and started again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildArchive, type FixtureArchive } from '../lib/archive';
import { pidsWithArg, runCliOnBus, startTestBus, testUsers, type DaemonProcess, type TestBus } from '../lib/bus';
import type { RepoServer } from '../lib/http-repo';
import { sh } from '../lib/env';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';
import { BUS_NAME, DAEMON_IFACE, OBJECT_PATH, TRANSACTION_IFACE } from '../../src/dbus/contract';
import { getStatus } from '../../src/engine/status';

let s: SysrootFixture;
let archive: FixtureArchive;
let server: RepoServer;
let tb: TestBus;
let daemon: DaemonProcess;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 120000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\ndaemon log:\n${daemon.log()}`);
    await sleep(100);
  }
}

async function deployments(): Promise<string[]> {
  return (await getStatus(s.path)).deployments.map((d) => d.id);
}

/** The state letter of a process in /proc/PID/stat, or undefined when it is gone. */
function procState(pid: number): string | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Alive: exists and is not a zombie waiting for its new parent to reap it. */
const running = (pid: number): boolean => {
  const st = procState(pid);
  return st !== undefined && st !== 'Z' && st !== 'X';
};

function describePid(pid: number): string {
  try {
    return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`;
  } catch {
    return `${pid}`;
  }
}

/** Every process below `pid` (by parent PID), now. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parent) {
      if (pp === p) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

function leftovers(): string[] {
  const tmp = join(s.repo, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp).filter((e) => e.startsWith('apt-ostree-layer-')) : [];
}

describe('transactions with a long operation', { timeout: 30 * 60 * 1000 }, () => {
  before(async () => {
    testUsers();
    s = await makeSysroot({ prefix: 'daemon-tx' });
    archive = buildArchive(
      [
        { name: 'fx-quick', version: '1.0', files: { '/usr/share/fx-quick/q.txt': 'quick\n' } },
        { name: 'fx-slow', version: '1.0', files: { '/usr/share/fx-slow/s.txt': 'slow\n' }, postinst: 'sleep 4' },
        { name: 'fx-slower', version: '1.0', files: { '/usr/share/fx-slower/s.txt': 'slower\n' }, postinst: 'sleep 30' },
      ],
      'daemon-archive',
    );
    let source: string;
    ({ server, source } = await archive.serve());
    const top = (await getStatus(s.path)).deployments[0]!;
    const dir = join(s.path, 'ostree', 'deploy', top.osname, 'deploy', `${top.checksum}.${top.serial}`, 'etc', 'apt', 'sources.list.d');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'fixtures.list'), `${source}\n`);
    tb = await startTestBus();
    daemon = await tb.startDaemon(s.path);
  });

  after(async () => {
    await tb?.stop();
    await server?.close();
    s?.cleanup();
    if (archive) sh('rm', ['-rf', archive.dir]);
  });

  it('ten clients at once: one runs, identical ones join, different ones are Busy or wait with --queue', async () => {
    const first = runCliOnBus(tb, ['--sysroot', s.path, 'install', 'fx-slow']);
    await waitFor('the install to be active', () => /transaction \d+ \(install fx-slow\) started/.test(daemon.log()));
    const clients = [
      ...[1, 2, 3].map(() => runCliOnBus(tb, ['--sysroot', s.path, 'install', 'fx-slow'])),
      ...[1, 2, 3, 4].map((i) => runCliOnBus(tb, ['--sysroot', s.path, 'kargs', `--append=busy${i}=1`])),
      runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append=queued1=1', '--queue']),
      runCliOnBus(tb, ['--sysroot', s.path, 'install', 'fx-quick', '--queue']),
    ];
    const [r0, ...rs] = await Promise.all([first, ...clients]);
    const all = [r0!, ...rs];
    const show = all.map((r, i) => `#${i} ${r.code}\n${r.stdout}${r.stderr}`).join('\n');
    for (const r of all.slice(0, 4)) assert.equal(r.code, 0, show);
    for (const r of all.slice(4, 8)) {
      assert.equal(r.code, 1, show);
      assert.match(
        r.stderr,
        /another transaction is in progress: "install fx-slow" \(\/org\/aptostree\/dev\/transaction\/\d+, running, started by :[\d.]+\)/,
        show,
      );
    }
    assert.equal(all[8]!.code, 0, show);
    assert.equal(all[9]!.code, 0, show);
    assert.match(all[8]!.stdout + all[9]!.stdout, /Waiting for the transaction in progress to finish/);
    // The joined clients saw the same progress and result.
    assert.equal((daemon.log().match(/joins transaction \d+ \(install fx-slow\)/g) ?? []).length, 3, daemon.log());
    for (const r of all.slice(0, 4)) assert.match(r.stdout, /fx-slow/, show);
    const st = await getStatus(s.path);
    const top = st.deployments[0]!;
    assert.deepEqual([...top['requested-packages']].sort(), ['fx-quick', 'fx-slow']);
    assert.ok(top.kargs.includes('queued1=1'), top.kargs.join(' '));
    assert.ok(!top.kargs.some((k) => k.startsWith('busy')), top.kargs.join(' '));
    assert.equal(st.transaction, null);
  });

  it('Cancel in the middle (apt-ostree cancel): the client reports it, nothing is deployed, no scratch left', async () => {
    const before0 = await deployments();
    const inst = runCliOnBus(tb, ['--sysroot', s.path, 'install', 'fx-slower']);
    await waitFor('dpkg to run', () => /\] Running dpkg and maintainer scripts/.test(daemon.log().split('fx-slower').slice(1).join('')));
    await sleep(500);
    const c = await runCliOnBus(tb, ['--sysroot', s.path, 'cancel']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^Cancelled \/org\/aptostree\/dev\/transaction\/\d+$/m);
    const r = await inst;
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /was cancelled; nothing was deployed/);
    assert.deepEqual(await deployments(), before0);
    assert.deepEqual(leftovers(), []);
    assert.equal(pidsWithArg(join(s.repo, 'tmp', 'apt-ostree-layer-')).length, 0, 'no helper process left');
  });

  it('the daemon SIGKILLed in the middle, then started again: leftovers cleaned, status consistent, fsck passes', async () => {
    const before0 = await deployments();
    const bus = await tb.connect();
    try {
      const r = await bus.call({
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'InstallPackages',
        signature: 'asa{sv}',
        body: [['fx-slower'], {}],
      });
      await bus.call({ destination: BUS_NAME, path: String(r.body[0]), interface: TRANSACTION_IFACE, member: 'Start' });
      const mark = daemon.log().length;
      await waitFor('dpkg to run', () => /Running dpkg and maintainer scripts/.test(daemon.log().slice(mark)));
      await sleep(500);
      assert.equal(leftovers().length, 1, 'a scratch directory is in use');
      // Down to the maintainer script's sleep (inside bwrap, under the overlay helper).
      await waitFor('the maintainer script to run', () =>
        descendants(daemon.pid).some((p) => describePid(p).split(' ').slice(1, 3).join(' ') === 'sleep 30'),
      );
      const children = descendants(daemon.pid);
      assert.ok(children.length >= 3, `the daemon runs helpers: ${children.map(describePid).join('; ')}`);
      daemon.kill('SIGKILL');
      assert.equal(await daemon.exited, 'SIGKILL');
      // Its helpers die with it (the kernel's parent-death signal, then bwrap's --die-with-parent), before any new daemon.
      await waitFor('the helpers to end', () => children.every((p) => !running(p)), 5000).catch(() => {
        throw new Error(`still running after the daemon was killed: ${children.filter(running).map(describePid).join('; ')}`);
      });
    } finally {
      bus.close();
    }
    // The next daemon cleans up the scratch directory.
    daemon = await tb.startDaemon(s.path);
    assert.match(daemon.log(), /removed 1 scratch directory of an interrupted transaction/);
    assert.deepEqual(leftovers(), []);
    assert.equal(pidsWithArg(join(s.repo, 'tmp', 'apt-ostree-layer-')).length, 0, 'no helper process left');
    assert.deepEqual(await deployments(), before0);
    const st = await getStatus(s.path);
    assert.ok(!st.deployments[0]!['requested-packages'].includes('fx-slower'));
    assert.match(sh('ostree', ['fsck', `--repo=${s.repo}`]), /no errors found|Verifying content integrity/);
    // And it works: a quick change goes through.
    const k = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append=after-kill=1']);
    assert.equal(k.code, 0, k.stderr);
  });
});
