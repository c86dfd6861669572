/**
 * apt-ostreed against hostile callers, on a private bus with the real
 * dbus-daemon and polkitd: an unprivileged user that registers itself as its
 * own polkit agent and never answers, then floods the daemon with calls that
 * allow interactive authorization.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gdbus, runCliOnBus, startTestBus, testUsers, type DaemonProcess, type TestBus, type TestUser } from '../lib/bus';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';
import { removeTree, sh, tmpdir } from '../lib/env';
import { buildDeb } from '../lib/archive';
import { OWNER_ENV } from '../../src/engine/exec';
import { loadSysroot } from '../../src/engine/sysroot';
import { fuzzCalls } from '../lib/fuzz-calls';
import { BUS_NAME, DAEMON_IFACE, OBJECT_PATH, TRANSACTION_IFACE } from '../../src/dbus/contract';
import { DBusCallError, variantDict, type BusConnection, type DBusMessage } from '../../src/dbus/bus';

let s: SysrootFixture;
let tb: TestBus;
let daemon: DaemonProcess;
let users: { granted: TestUser; plain: TestUser };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface HostileEvent {
  event: string;
  i?: number;
  error?: string | null;
  ms?: number;
}

interface Hostile {
  child: ChildProcess;
  events: HostileEvent[];
  waitFor(what: string, cond: (ev: HostileEvent[]) => boolean, ms?: number): Promise<void>;
  replies(): HostileEvent[];
  stop(): Promise<void>;
}

/** Start tests/lib/hostile-client.ts as `user`, sending `count` calls. */
function hostile(user: TestUser, count: number): Hostile {
  const script = join(__dirname, '..', 'lib', 'hostile-client.js');
  const child = spawn(
    'setpriv',
    [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', process.execPath, script, String(count)],
    { env: tb.env, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const events: HostileEvent[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, i)) as HostileEvent);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    events,
    async waitFor(what, cond, ms = 30000) {
      const end = Date.now() + ms;
      while (!cond(events)) {
        if (child.exitCode !== null) throw new Error(`the hostile client exited (${child.exitCode}): ${err}`);
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events.slice(-5))}\n${err}`);
        await sleep(50);
      }
    },
    replies: () => events.filter((e) => e.event === 'reply'),
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const callAs = (user: TestUser | undefined, args: string[]): ReturnType<typeof gdbus> =>
  gdbus(tb, ['call', '--system', '--dest', BUS_NAME, '--object-path', OBJECT_PATH, '--method', ...args], user);

describe('apt-ostreed against hostile callers', { timeout: 10 * 60 * 1000 }, () => {
  before(async () => {
    users = testUsers();
    s = await makeSysroot({ source: 'mini', kargs: ['root=/dev/vda'], prefix: 'daemon-hostile' });
    tb = await startTestBus();
    daemon = await tb.startDaemon(s.path, { env: { APT_OSTREE_DAEMON_LINGER: '1' } });
  });

  after(async () => {
    await tb?.stop();
    s?.cleanup();
  });

  it('a flood of never-answered interactive authorizations is bounded (Busy) and does not stop an authorized user', async () => {
    const flood = hostile(users.plain, 140);
    try {
      await flood.waitFor('the agent and the calls', (ev) => ev.some((e) => e.event === 'sent'));
      await flood.waitFor('polkitd to ask the hostile agent', (ev) => ev.some((e) => e.event === 'begin'));
      const t1 = Date.now();
      while (flood.replies().length < 136 && Date.now() - t1 < 5000) await sleep(50);
      // An authorized user (the polkit rule grants its group) is served meanwhile.
      const t0 = Date.now();
      const r = callAs(users.granted, ['org.aptostree.dev.Daemon.InstallPackages', "['fx-granted']", '{}']);
      const ms = Date.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /objectpath '\/org\/aptostree\/dev\/transaction\/\d+'/);
      assert.ok(ms < 5000, `served in ${ms} ms`);
      process.stderr.write(`# an authorized call during the flood was served in ${ms} ms\n`);
      // All but the caller's bound were refused at once; polkitd asked the agent for the others, which stay pending.
      await sleep(500);
      const replies = flood.replies();
      const busy = replies.filter((x) => x.error === 'org.aptostree.dev.Error.Busy');
      assert.equal(busy.length, 136, JSON.stringify(replies.slice(0, 5)));
      assert.equal(replies.length, 136, 'the checks within the bound stay pending at polkitd');
      // Root too.
      assert.equal(callAs(undefined, ['org.aptostree.dev.Daemon.Ping']).stdout.trim(), "('pong',)");
    } finally {
      await flood.stop();
    }
    // The flood's caller left: its pending checks are cancelled at polkitd, and its slots are free again.
    await waitLog(/cancelled \d+ pending authorization/);
    const again = hostile(users.plain, 5);
    try {
      await again.waitFor('one refusal', () => again.replies().length >= 1, 15000);
      await sleep(500);
      assert.deepEqual(
        again.replies().map((r) => r.error),
        ['org.aptostree.dev.Error.Busy'],
      );
    } finally {
      await again.stop();
    }
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
  });

  it('a pending authorization keeps the daemon from exiting when idle; it exits once the caller left', async () => {
    daemon.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    const conf = tb.writeConfig('[Daemon]\nIdleExitTimeout=1\n');
    const d = await tb.startDaemon(s.path, { config: conf });
    daemon = d;
    const prompt = hostile(users.plain, 1);
    try {
      await prompt.waitFor('polkitd to ask the agent', (ev) => ev.some((e) => e.event === 'begin'));
      // Four idle periods with only the password prompt pending.
      const code = await Promise.race([d.exited, sleep(4000).then(() => 'still running')]);
      assert.equal(code, 'still running', d.log());
      assert.equal(prompt.replies().length, 0, 'the check is still pending');
    } finally {
      await prompt.stop();
    }
    const code = await Promise.race([d.exited, sleep(8000).then(() => 'still running')]);
    assert.equal(code, 0, d.log());
    assert.doesNotThrow(() => process.kill(tb.polkitPid!, 0), 'polkitd is still running');
    assert.match(d.log(), /idle for 1 s with no transaction: exiting/);
    daemon = await tb.startDaemon(s.path, { env: { APT_OSTREE_DAEMON_LINGER: '1' } });
  });

  it("a transaction's signals reach its clients only, not another user listening to everything the daemon sends", async () => {
    // Another user, subscribed to every signal of the daemon (eavesdropping is not allowed by the bus policy).
    const mon = spawn(
      'setpriv',
      [
        `--reuid=${users.plain.uid}`,
        `--regid=${users.plain.gid}`,
        '--init-groups',
        '--',
        'gdbus',
        'monitor',
        '--system',
        '--dest',
        BUS_NAME,
      ],
      { env: { ...tb.env, DBUS_SYSTEM_BUS_ADDRESS: tb.address }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let seen = '';
    mon.stdout!.on('data', (b: Buffer) => (seen += b.toString()));
    const monExited = new Promise<void>((r) => mon.once('exit', () => r()));
    const a = await tb.connect();
    const joiner = await tb.connect();
    try {
      const end0 = Date.now() + 10000;
      while (!/is owned by/.test(seen) && Date.now() < end0) await sleep(50);
      assert.match(seen, /is owned by/, 'gdbus monitor is listening');
      const got = new Map<BusConnection, Array<{ path: string; member: string }>>([
        [a, []],
        [joiner, []],
      ]);
      for (const c of [a, joiner]) {
        // The match rule the CLI uses.
        await c.addMatch(`type='signal',sender='${BUS_NAME}',path_namespace='/org/aptostree/dev/transaction'`);
        c.on('signal', (m: DBusMessage) => {
          if (m.path?.startsWith('/org/aptostree/dev/transaction/')) got.get(c)!.push({ path: m.path, member: m.member ?? '' });
        });
      }
      const req = {
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'ModifyKernelArgs',
        signature: 'asasasa{sv}',
        body: [['private=1'], [], [], {}],
      };
      const tx = String((await a.call(req)).body[0]);
      assert.equal(String((await joiner.call(req)).body[0]), tx, 'the identical request joins');
      await a.call({ destination: BUS_NAME, path: tx, interface: TRANSACTION_IFACE, member: 'Start' });
      const end = Date.now() + 60000;
      while (![a, joiner].every((c) => got.get(c)!.some((x) => x.member === 'Finished')) && Date.now() < end) await sleep(50);
      for (const c of [a, joiner]) {
        const members = got.get(c)!.map((x) => x.member);
        assert.ok(members.includes('TaskBegin') && members.includes('Finished'), members.join(' '));
        assert.ok(members.includes('PropertiesChanged'), members.join(' '));
      }
      await sleep(500);
      assert.doesNotMatch(seen, /^\/org\/aptostree\/dev\/transaction\/\d+:/m, `the other user saw:\n${seen}`);
    } finally {
      a.close();
      joiner.close();
      mon.kill('SIGTERM');
      await monExited;
    }
  });

  it("a SIGKILLed daemon's children die with it (ostree pull included); the next start ends leftovers, and works", async () => {
    // A remote that accepts connections and never answers: the pull hangs.
    const stall = createServer(() => undefined);
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', () => r()));
    const port = (stall.address() as AddressInfo).port;
    sh('ostree', ['remote', 'add', `--repo=${s.repo}`, '--no-gpg-verify', 'stall', `http://127.0.0.1:${port}/`]);
    const before0 = sh('ostree', ['refs', `--repo=${s.repo}`]);
    const b = await tb.connect();
    let pulls: number[] = [];
    try {
      const r = await b.call({
        destination: BUS_NAME,
        path: OBJECT_PATH,
        interface: DAEMON_IFACE,
        member: 'Rebase',
        signature: 'sa{sv}',
        body: ['stall:debian/stalled', {}],
      });
      await b.call({ destination: BUS_NAME, path: String(r.body[0]), interface: TRANSACTION_IFACE, member: 'Start' });
      const end = Date.now() + 20000;
      while (Date.now() < end) {
        pulls = descendants(daemon.pid).filter((p) => cmdline(p).includes('pull'));
        if (pulls.some((p) => cmdline(p)[0]?.endsWith('ostree'))) break;
        await sleep(100);
      }
      assert.ok(pulls.length > 0, `ostree pull runs under the daemon:\n${daemon.log()}`);
      daemon.kill('SIGKILL');
      assert.equal(await daemon.exited, 'SIGKILL');
      const t0 = Date.now();
      while (pulls.some(running) && Date.now() - t0 < 3000) await sleep(50);
      assert.deepEqual(
        pulls.filter(running).map((p) => `${p} ${cmdline(p).join(' ')}`),
        [],
        'the pull ended with the daemon',
      );
    } finally {
      b.close();
      stall.close();
    }
    // Something a dead apt-ostree process left (as where setpriv is missing): the next daemon ends it.
    const orphan = spawn('sleep', ['300'], { env: { ...process.env, [OWNER_ENV]: '999999999:1' }, stdio: 'ignore' });
    const orphanExit = new Promise<unknown>((r) => orphan.once('exit', (c, sig) => r(sig)));
    daemon = await tb.startDaemon(s.path, { env: { APT_OSTREE_DAEMON_LINGER: '1' } });
    assert.equal(await Promise.race([orphanExit, sleep(3000).then(() => 'still running')]), 'SIGKILL');
    assert.match(daemon.log(), new RegExp(`stopping process ${orphan.pid}, left running`));
    assert.equal(sh('ostree', ['refs', `--repo=${s.repo}`]), before0, 'no ref was made');
    sh('ostree', ['fsck', `--repo=${s.repo}`]);
    sh('ostree', ['remote', 'delete', `--repo=${s.repo}`, 'stall']);
    const k = await runCliOnBus(tb, ['--sysroot', s.path, 'kargs', '--append=after-kill=1']);
    assert.equal(k.code, 0, k.stderr);
  });

  it('local .deb files are read as the caller: a symlink to a root-only .deb and a FIFO are refused, nothing imported', async () => {
    const dir = tmpdir('hostile-debs');
    chmodSync(dir, 0o755);
    const secret = join(dir, 'secret');
    mkdirSync(secret, { mode: 0o700 });
    const hidden = buildDeb(secret, { name: 'fx-secret', version: '1.0', files: { '/usr/share/fx-secret/s.txt': 'secret\n' } });
    chmodSync(hidden, 0o600);
    const pub = join(dir, 'pub');
    mkdirSync(pub, { mode: 0o755 });
    symlinkSync(hidden, join(pub, 'link.deb'));
    sh('mkfifo', ['-m', '0666', join(pub, 'fifo.deb')]);
    const own = buildDeb(pub, { name: 'fx-own', version: '1.0', files: { '/usr/share/fx-own/o.txt': 'own\n' } });
    chmodSync(own, 0o644);
    const refs0 = sh('ostree', ['refs', `--repo=${s.repo}`]);
    try {
      // The granted user (the polkit rule grants it install-packages) through a symlink to root's file.
      const viaLink = await installAs(users.granted, join(pub, 'link.deb'));
      assert.notEqual(viaLink.error, null, JSON.stringify(viaLink));
      assert.match(viaLink.text, /cannot use .*link\.deb as uid \d+: permission denied/);
      // Inside a directory it cannot read, a file that exists and one that does not look the same.
      const inside = await installAs(users.granted, hidden);
      const missing = await installAs(users.granted, join(secret, 'nothing.deb'));
      assert.equal(inside.text.replace(hidden, 'X'), missing.text.replace(join(secret, 'nothing.deb'), 'X'));
      // A FIFO nobody writes to: refused at once, no lock held meanwhile.
      const fifo = await installAs(users.granted, join(pub, 'fifo.deb'));
      assert.match(fifo.text, /it is not a regular file/);
      assert.ok(fifo.ms! < 10000, `refused in ${fifo.ms} ms`);
      assert.equal(sh('ostree', ['refs', `--repo=${s.repo}`]), refs0, 'nothing was imported');
      // A dry run with its own .deb writes nothing to the repository.
      const dry = await installAs(users.granted, own, true);
      assert.match(dry.text, /Reading 1 local package|Dry run|resolving/i, JSON.stringify(dry));
      assert.equal(sh('ostree', ['refs', `--repo=${s.repo}`]), refs0, 'a dry run imports nothing');
      // Its own readable .deb goes through: imported from the daemon's copy, and the copy goes away.
      const mine = await installAs(users.granted, own);
      assert.match(sh('ostree', ['refs', `--repo=${s.repo}`]), /aptostree\/pkg\/fx-own\//, JSON.stringify(mine));
      await sleep(2000);
      assert.deepEqual(
        readdirSync(join(s.repo, 'tmp')).filter((e) => e.startsWith('apt-ostree-debs-')),
        [],
        'the copies are removed with the transaction',
      );
    } finally {
      removeTree(dir);
    }
  });

  it('the queue is bounded (Busy beyond 16); a joined client without the cancel grant only detaches itself', async () => {
    const a = await tb.connect();
    const base = {
      destination: BUS_NAME,
      path: OBJECT_PATH,
      interface: DAEMON_IFACE,
      member: 'ModifyKernelArgs',
      signature: 'asasasa{sv}',
    };
    const queue = variantDict({ queue: { signature: 'b', value: true } });
    try {
      const paths: string[] = [];
      for (let i = 0; i < 16; i++) paths.push(String((await a.call({ ...base, body: [[`q${i}=1`], [], [], queue] })).body[0]));
      assert.equal(new Set(paths).size, 16);
      await assert.rejects(a.call({ ...base, body: [['q16=1'], [], [], queue] }), (e: unknown) => {
        assert.ok(e instanceof DBusCallError);
        assert.equal(e.errorName, 'org.aptostree.dev.Error.Busy');
        assert.match(e.message, /16 transactions are already waiting \(at most 16\)/);
        return true;
      });
    } finally {
      a.close();
    }
    // The client left: its unstarted transactions are dropped.
    const end0 = Date.now() + 10000;
    while (
      !/\(<objectpath '\/'>,\)/.test(callAs(undefined, ['org.freedesktop.DBus.Properties.Get', DAEMON_IFACE, 'ActiveTransaction']).stdout)
    ) {
      assert.ok(Date.now() < end0, 'the queue empties');
      await sleep(100);
    }

    // The plain user may change kernel arguments (a rule for it), not cancel others' transactions.
    writeFileSync(
      join(tb.dir, 'polkit-rules', '20-plain-kargs.rules'),
      `polkit.addRule(function(action, subject) {\n  if (action.id == "org.aptostree.dev.modify-kernel-args" && subject.user == "${users.plain.name}") return polkit.Result.YES;\n});\n`,
      { mode: 0o644 },
    );
    const owner = await tb.connect();
    try {
      const tx = String((await owner.call({ ...base, body: [['joined=1'], [], [], {}] })).body[0]);
      let jc: { tx: string; error: string | null; text?: string } | undefined;
      const end = Date.now() + 15000;
      for (;;) {
        const r = spawnSync(
          'setpriv',
          [
            `--reuid=${users.plain.uid}`,
            `--regid=${users.plain.gid}`,
            '--init-groups',
            '--',
            process.execPath,
            join(__dirname, '..', 'lib', 'hostile-client.js'),
            'join-cancel',
            'joined=1',
          ],
          { env: tb.env, encoding: 'utf8', timeout: 60000 },
        );
        jc = JSON.parse(
          String(r.stdout)
            .split('\n')
            .find((l) => l.startsWith('{')) ?? '{}',
        ) as typeof jc;
        if (jc?.tx === tx || Date.now() > end) break;
        await sleep(500); // polkitd reloads its rules
      }
      assert.equal(jc?.tx, tx, `the plain user joins: ${JSON.stringify(jc)}`);
      assert.equal(jc?.error, null, JSON.stringify(jc));
      const state = (): string =>
        /<'(\w+)'>/.exec(
          gdbus(tb, [
            'call',
            '--system',
            '--dest',
            BUS_NAME,
            '--object-path',
            tx,
            '--method',
            'org.freedesktop.DBus.Properties.Get',
            TRANSACTION_IFACE,
            'State',
          ]).stdout,
        )?.[1] ?? '';
      assert.equal(state(), 'created', 'the joined client did not cancel it for its initiator');
      await waitLog(/leaves transaction \d+ \(kargs\), which it joined/);
      // Its initiator still can.
      await owner.call({ destination: BUS_NAME, path: tx, interface: TRANSACTION_IFACE, member: 'Cancel' });
      assert.equal(state(), 'cancelled');
    } finally {
      owner.close();
      rmSync(join(tb.dir, 'polkit-rules', '20-plain-kargs.rules'), { force: true });
    }
  });

  it('300 hostile calls from root and 100 from an unprivileged user: each gets a D-Bus error, nothing changes, the daemon stays up', async () => {
    const refs0 = sh('ostree', ['refs', `--repo=${s.repo}`]);
    const deps0 = (await loadSysroot(s.path)).deployments.map((d) => `${d.checksum}.${d.serial}`);
    const seed = Number(process.env.APT_OSTREE_FUZZ_SEED ?? '20261206');
    const b = await tb.connect();
    const errors: Record<string, number> = {};
    const accepted: string[] = [];
    try {
      for (const c of fuzzCalls(seed, 300)) {
        try {
          await b.call(c);
          accepted.push(`${c.member}(${c.signature ?? ''}) ${JSON.stringify(c.body ?? []).slice(0, 200)}`);
        } catch (e) {
          assert.ok(e instanceof DBusCallError, `a D-Bus error, not ${String(e)}`);
          errors[e.errorName] = (errors[e.errorName] ?? 0) + 1;
        }
      }
    } finally {
      b.close();
    }
    assert.deepEqual(accepted, [], `seed ${seed}: calls that were accepted`);
    assert.ok(Object.keys(errors).length >= 3, JSON.stringify(errors));
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    // An unprivileged user gets refused before anything looks at its arguments.
    const script = join(__dirname, '..', 'lib', 'hostile-client.js');
    const r = spawnSync(
      'setpriv',
      [
        `--reuid=${users.plain.uid}`,
        `--regid=${users.plain.gid}`,
        '--init-groups',
        '--',
        process.execPath,
        script,
        'fuzz',
        String(seed + 1),
        '100',
      ],
      {
        env: tb.env,
        encoding: 'utf8',
        timeout: 300000,
      },
    );
    const out = JSON.parse(
      String(r.stdout)
        .split('\n')
        .find((l) => l.startsWith('{')) ?? '{}',
    ) as { errors?: Record<string, number>; accepted?: string[] };
    assert.deepEqual(out.accepted, [], r.stderr);
    assert.equal(
      Object.values(out.errors ?? {}).reduce((x, y) => x + y, 0),
      100,
      JSON.stringify(out),
    );
    assert.equal(callAs(undefined, ['org.aptostree.dev.Daemon.Ping']).stdout.trim(), "('pong',)");
    assert.equal(sh('ostree', ['refs', `--repo=${s.repo}`]), refs0);
    assert.deepEqual(
      (await loadSysroot(s.path)).deployments.map((d) => `${d.checksum}.${d.serial}`),
      deps0,
    );
    process.stderr.write(`# fuzz errors (root): ${JSON.stringify(errors)}; (unprivileged): ${JSON.stringify(out.errors)}\n`);
  });
});

/** InstallPackages([path]) from a connection of `user`, started when granted; the outcome. */
async function installAs(user: TestUser, path: string, dryRun = false): Promise<{ error: string | null; text: string; ms?: number }> {
  const script = join(__dirname, '..', 'lib', 'hostile-client.js');
  const r = spawnSync(
    'setpriv',
    [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--init-groups',
      '--',
      process.execPath,
      script,
      'install',
      path,
      ...(dryRun ? ['dry-run'] : []),
    ],
    {
      env: tb.env,
      encoding: 'utf8',
      timeout: 120000,
    },
  );
  const line = String(r.stdout)
    .split('\n')
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the client printed nothing (${r.status}): ${r.stderr}`);
  return JSON.parse(line) as { error: string | null; text: string; ms?: number };
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** Alive: exists and is not a zombie waiting for its new parent to reap it. */
function running(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(st.slice(st.lastIndexOf(')') + 2).split(' ')[0]!);
  } catch {
    return false;
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
    for (const [c, pp] of parent)
      if (pp === p) {
        out.push(c);
        walk(c);
      }
  };
  walk(pid);
  return out;
}

async function waitLog(re: RegExp, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(daemon.log())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} in the daemon log:\n${daemon.log()}`);
    await sleep(100);
  }
}
