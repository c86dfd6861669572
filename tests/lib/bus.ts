/**
 * A private system bus for daemon tests, with the real parts:
 *
 *   - the files of scripts/install-daemon.sh, installed into a directory (DESTDIR);
 *   - dbus-daemon with a configuration modelled on Debian's system.conf that
 *     includes the D-Bus policy we ship (from the DESTDIR) and polkit's;
 *   - polkitd on that bus, in a private mount namespace where our polkit
 *     policy (from the DESTDIR) is bind-mounted over /usr/share/polkit-1/actions
 *     and a rules directory that grants GRANT_GROUP over /etc/polkit-1/rules.d
 *     (the machine's own files are not touched);
 *   - apt-ostreed on that bus, or activatable through a <servicedir>.
 *
 * Every process is stopped by its PID in stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON, ROOT, removeTree, tmpdir, type CliResult, CLI } from './env';
import { BusConnection } from '../../src/dbus/bus';

export const GRANT_GROUP = 'aptostree-grant';
export const GRANTED_USER = 'aptostree-granted';
export const PLAIN_USER = 'aptostree-plain';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** Create (once, idempotent) the test group and users; returns them. */
export function testUsers(): { granted: TestUser; plain: TestUser } {
  if (spawnSync('getent', ['group', GRANT_GROUP]).status !== 0) spawnSync('groupadd', ['--system', GRANT_GROUP], { stdio: 'inherit' });
  for (const [u, extra] of [
    [GRANTED_USER, ['--groups', GRANT_GROUP]],
    [PLAIN_USER, []],
  ] as const) {
    if (spawnSync('getent', ['passwd', u]).status !== 0) {
      spawnSync(
        'useradd',
        ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', ...extra, u],
        { stdio: 'inherit' },
      );
    }
  }
  const info = (u: string): TestUser => {
    const f = String(spawnSync('getent', ['passwd', u], { encoding: 'utf8' }).stdout).split(':');
    return { name: u, uid: Number(f[2]), gid: Number(f[3]) };
  };
  return { granted: info(GRANTED_USER), plain: info(PLAIN_USER) };
}

export interface DaemonProcess {
  pid: number;
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** Resolves with the exit code (or signal name) when it ends. */
  exited: Promise<number | string>;
  kill(sig?: NodeJS.Signals): void;
}

export interface TestBus {
  dir: string;
  address: string;
  destdir: string;
  /** Environment for clients: DBUS_SYSTEM_BUS_ADDRESS, and APT_OSTREE_DIRECT unset. */
  env: NodeJS.ProcessEnv;
  busPid: number;
  polkitPid?: number;
  /** Start apt-ostreed on this bus and wait until it owns its name. */
  startDaemon(sysroot: string, opts?: { config?: string; env?: NodeJS.ProcessEnv }): Promise<DaemonProcess>;
  /** Write a configuration file under the bus directory; returns its path. */
  writeConfig(text: string): string;
  connect(): Promise<BusConnection>;
  /** Stop everything this bus started (by PID) and remove its directory. */
  stop(): Promise<void>;
}

export interface TestBusOptions {
  polkit?: boolean;
  /** Make the daemon activatable: a service file that runs it on `sysroot`. */
  /** config: the text of its configuration file (default: the shipped one). */
  activation?: { sysroot: string; config?: string; env?: Record<string, string> };
}

function waitForLine(child: ChildProcess, what: string, ms = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${what} did not start within ${ms} ms`)), ms);
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        resolve(buf.slice(0, i).trim());
      }
    });
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${c}) before it was ready`));
    });
  });
}

async function waitForName(address: string, name: string, alive: () => boolean, ms = 20000): Promise<void> {
  const bus = await BusConnection.connect(address);
  try {
    const end = Date.now() + ms;
    for (;;) {
      const r = await bus.busCall('NameHasOwner', 's', [name]);
      if (r.body[0] === true) return;
      if (!alive()) throw new Error(`the process meant to own ${name} exited`);
      if (Date.now() > end) throw new Error(`${name} did not appear on the bus within ${ms} ms`);
      await new Promise((r2) => setTimeout(r2, 50));
    }
  } finally {
    bus.close();
  }
}

function killPid(pid: number | undefined, sig: NodeJS.Signals = 'SIGTERM'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

function exitedPromise(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code, sig) => resolve(code ?? sig ?? -1));
  });
}

export async function startTestBus(opts: TestBusOptions = {}): Promise<TestBus> {
  const dir = tmpdir('bus');
  chmodSync(dir, 0o755);
  const destdir = join(dir, 'root');
  const inst = spawnSync('sh', [join(ROOT, 'scripts', 'install-daemon.sh'), '--destdir', destdir], { encoding: 'utf8' });
  if (inst.status !== 0) throw new Error(`install-daemon.sh failed: ${inst.stderr}`);
  const sock = join(dir, 'system_bus_socket');
  const address = `unix:path=${sock}`;
  const services = join(dir, 'services');
  mkdirSync(services);
  if (opts.activation) {
    const envArgs = Object.entries(opts.activation.env ?? {}).map(([k, v]) => `${k}=${v}`);
    // The configuration lives in our directory, so stop() finds the activated daemon by its command line.
    const cfgPath = join(dir, 'activation.conf');
    writeFileSync(cfgPath, opts.activation.config ?? readFileSync(join(destdir, 'etc', 'apt-ostree', 'apt-ostreed.conf'), 'utf8'));
    const cfg = ` --config ${cfgPath}`;
    writeFileSync(
      join(services, 'org.aptostree.dev.service'),
      `[D-BUS Service]\nName=org.aptostree.dev\nExec=/usr/bin/env ${envArgs.join(' ')} ${process.execPath} ${DAEMON} --sysroot ${opts.activation.sysroot}${cfg}\nUser=root\n`,
    );
  }
  const conf = join(dir, 'bus.conf');
  writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>${address}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>${services}</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include ignore_missing="yes">/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
  <includedir>${join(destdir, 'etc', 'dbus-1', 'system.d')}</includedir>
</busconfig>
`,
  );
  const busChild = spawn('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address },
  });
  await waitForLine(busChild, 'dbus-daemon');
  chmodSync(sock, 0o777);
  const busExited = exitedPromise(busChild);
  let polkitChild: ChildProcess | undefined;
  let polkitExited: Promise<number | string> | undefined;
  if (opts.polkit !== false) {
    const rules = join(dir, 'polkit-rules');
    mkdirSync(rules);
    chmodSync(rules, 0o755);
    writeFileSync(
      join(rules, '10-apt-ostree-test.rules'),
      `polkit.addRule(function(action, subject) {\n  if (action.id.indexOf("org.aptostree.dev.") == 0 && subject.isInGroup("${GRANT_GROUP}")) return polkit.Result.YES;\n});\n`,
      { mode: 0o644 },
    );
    const actions = join(destdir, 'usr', 'share', 'polkit-1', 'actions');
    // unshare without --fork execs in place: the PID we hold is polkitd's.
    polkitChild = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        'mount --bind "$1" /usr/share/polkit-1/actions && mount --bind "$2" /etc/polkit-1/rules.d && exec /usr/lib/polkit-1/polkitd --no-debug',
        'sh',
        actions,
        rules,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address } },
    );
    polkitExited = exitedPromise(polkitChild);
    await waitForName(address, 'org.freedesktop.PolicyKit1', () => polkitChild!.exitCode === null);
  }
  const daemons: DaemonProcess[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: address };
  delete env.APT_OSTREE_DIRECT;
  const tb: TestBus = {
    dir,
    address,
    destdir,
    env,
    busPid: busChild.pid!,
    polkitPid: polkitChild?.pid,
    writeConfig(text) {
      const p = join(dir, `apt-ostreed-${Date.now()}-${Math.random().toString(36).slice(2)}.conf`);
      writeFileSync(p, text);
      return p;
    },
    async startDaemon(sysroot, o = {}) {
      const args = [DAEMON, '--sysroot', sysroot];
      if (o.config) args.push('--config', o.config);
      else args.push('--config', join(destdir, 'etc', 'apt-ostree', 'apt-ostreed.conf'));
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'], env: { ...env, ...o.env } });
      let text = '';
      child.stderr!.on('data', (b: Buffer) => {
        text += b.toString();
        if (process.env.APT_OSTREE_TEST_DAEMON_LOG) process.stderr.write(b);
      });
      const d: DaemonProcess = {
        pid: child.pid!,
        child,
        log: () => text,
        exited: exitedPromise(child),
        kill: (sig = 'SIGTERM') => killPid(child.pid, sig),
      };
      daemons.push(d);
      try {
        await waitForName(address, 'org.aptostree.dev', () => child.exitCode === null && child.signalCode === null);
      } catch (e) {
        throw new Error(`${(e as Error).message}\ndaemon log:\n${text}`);
      }
      return d;
    },
    connect: () => BusConnection.connect(address),
    async stop() {
      for (const d of daemons) {
        d.kill('SIGTERM');
        const t = setTimeout(() => d.kill('SIGKILL'), 5000);
        await d.exited;
        clearTimeout(t);
      }
      // An activated daemon is a child of dbus-daemon: find it by its command line under our directory.
      for (const pid of pidsWithArg(dir)) killPid(pid, 'SIGKILL');
      killPid(polkitChild?.pid);
      killPid(busChild.pid);
      await Promise.all([busExited, polkitExited]);
      removeTree(dir);
    },
  };
  return tb;
}

/** PIDs of processes with an argument that contains `s`. */
export function pidsWithArg(s: string): number[] {
  const out: number[] = [];
  for (const e of spawnSync('ls', ['/proc'], { encoding: 'utf8' }).stdout.split('\n')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const f = `/proc/${e}/cmdline`;
      if (!existsSync(f)) continue;
      if (
        readFileSync(f, 'utf8')
          .split('\0')
          .some((a) => a.includes(s))
      )
        out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Run the CLI against the test bus (through the daemon), optionally as another user. */
export function runCliOnBus(
  tb: TestBus,
  args: string[],
  opts: { user?: TestUser; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult & { pid: number }> {
  const argv = opts.user
    ? ['setpriv', `--reuid=${opts.user.uid}`, `--regid=${opts.user.gid}`, '--init-groups', '--', process.execPath, CLI, ...args]
    : [process.execPath, CLI, ...args];
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...tb.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const t = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('close', (code) => {
      if (t) clearTimeout(t);
      resolve({ code: code ?? 128, stdout, stderr, pid: child.pid! });
    });
  });
}

/** gdbus against the test bus, optionally as another user. */
export function gdbus(tb: TestBus, args: string[], user?: TestUser): CliResult {
  const argv = user
    ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', 'gdbus', ...args]
    : ['gdbus', ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...tb.env, DBUS_SYSTEM_BUS_ADDRESS: tb.address } });
  return { code: r.status ?? 128, stdout: String(r.stdout), stderr: String(r.stderr) };
}
