/**
 * Benchmark of reading the status (run as root: node dist/bench/status.js).
 *
 * On a small directory sysroot, with apt-ostreed on a private bus (and
 * polkitd, as in the tests), each measured in this run, median of N runs:
 *   - `node -e 0`: the runtime's floor;
 *   - `ostree admin status --sysroot`: the C tool's own status;
 *   - `apt-ostree status` and `status --json`, served by the running daemon
 *     (GetStatus on one short connection: the client never loads the addon);
 *   - the same read directly (APT_OSTREE_DIRECT=1: the fallback when no
 *     daemon serves the sysroot; it loads the native libostree addon);
 *   - `apt-ostree --version`: the full CLI's start-up;
 *   - a fresh client process that connects to the bus with dbus-next and calls
 *     GetStatus (the older way of the daemon path, for comparison);
 * the commands run in turn within each round (one of each, N rounds), so a
 * load that comes and goes on a shared machine weighs on all of them alike;
 * beside the wall time, each one's mean CPU time (user + system), which such
 * a load disturbs much less.
 * Target: the four status commands at most 1.3x the floor. Then the
 * GetStatus round trip on one connection to an idle daemon: median and 99th
 * percentile over 1000 calls.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startTestBus } from '../tests/lib/bus';
import { makeSysroot } from '../tests/lib/sysroot';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'apt-ostree');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

interface Cmd {
  name: string;
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  ms: number[];
  /** CPU time (user + system) of all its runs, in clock ticks. */
  cpuTicks: number;
}

/**
 * CPU time of this process's waited-for children so far (cutime + cstime of
 * /proc/self/stat), in clock ticks: summed over many runs, a figure that a
 * load on a shared machine disturbs far less than the wall time.
 */
function childTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

function once(c: Cmd): number {
  const cpu = childTicks();
  const t = process.hrtime.bigint();
  const r = spawnSync(c.cmd, c.args, { env: c.env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${c.cmd} ${c.args.join(' ')} failed: ${r.stderr}`);
  c.cpuTicks += childTicks() - cpu;
  return ms;
}

/** Every command once per round, RUNS rounds (after one warm-up round). */
function timeAll(cmds: Cmd[]): void {
  for (const c of cmds) once(c);
  for (const c of cmds) c.cpuTicks = 0;
  for (let i = 0; i < RUNS; i++) for (const c of cmds) c.ms.push(once(c));
}

async function main(): Promise<void> {
  const s = await makeSysroot({ source: 'mini', prefix: 'bench-status' });
  const tb = await startTestBus();
  try {
    await tb.startDaemon(s.path);
    const env = { ...tb.env };
    const direct = { ...env, APT_OSTREE_DIRECT: '1' };
    const client = `const {BusConnection}=require(${JSON.stringify(join(ROOT, 'dist/src/dbus/bus.js'))});
BusConnection.connect().then(async b=>{const r=await b.call({destination:'org.aptostree.dev',path:'/org/aptostree/dev',interface:'org.aptostree.dev.Daemon',member:'GetStatus'});process.stdout.write(String(r.body[0]).slice(0,1));b.close();});`;
    const node = process.execPath;
    const cmds: Cmd[] = [
      { name: 'node -e 0 (floor)', cmd: node, args: ['-e', '0'], env, ms: [], cpuTicks: 0 },
      { name: 'ostree admin status', cmd: 'ostree', args: ['admin', 'status', `--sysroot=${s.path}`], env, ms: [], cpuTicks: 0 },
      { name: 'apt-ostree status (daemon)', cmd: node, args: [CLI, '--sysroot', s.path, 'status'], env, ms: [], cpuTicks: 0 },
      {
        name: 'apt-ostree status --json (daemon)',
        cmd: node,
        args: [CLI, '--sysroot', s.path, 'status', '--json'],
        env,
        ms: [],
        cpuTicks: 0,
      },
      { name: 'apt-ostree status (direct)', cmd: node, args: [CLI, '--sysroot', s.path, 'status'], env: direct, ms: [], cpuTicks: 0 },
      {
        name: 'apt-ostree status --json (direct)',
        cmd: node,
        args: [CLI, '--sysroot', s.path, 'status', '--json'],
        env: direct,
        ms: [],
        cpuTicks: 0,
      },
      { name: 'apt-ostree --version', cmd: node, args: [CLI, '--version'], env, ms: [], cpuTicks: 0 },
      { name: 'fresh client: dbus-next connect + GetStatus', cmd: node, args: ['-e', client], env, ms: [], cpuTicks: 0 },
    ];
    timeAll(cmds);
    const [floor, ostree, status, json, statusDirect, jsonDirect] = cmds.map((c) => median(c.ms)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];

    const bus = await tb.connect();
    const rt: number[] = [];
    try {
      for (let i = 0; i < 1000; i++) {
        const t = process.hrtime.bigint();
        await bus.call({
          destination: 'org.aptostree.dev',
          path: '/org/aptostree/dev',
          interface: 'org.aptostree.dev.Daemon',
          member: 'GetStatus',
        });
        rt.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    } finally {
      bus.close();
    }
    const tick = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
    const cpu = (c: Cmd): number => (c.cpuTicks * tick) / RUNS;
    const floorCpu = cpu(cmds[0]!);
    const row = (c: Cmd): string => {
      const ms = median(c.ms);
      return `${c.name.padEnd(44)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / floor).toFixed(2)}x floor   cpu ${cpu(c).toFixed(1).padStart(6)} ms  ${(cpu(c) / floorCpu).toFixed(2)}x`;
    };
    const target = (name: string, ms: number): string =>
      `target ${name} <= 1.3x floor: ${ms / floor <= 1.3 ? 'met' : 'NOT met'} (${(ms / floor).toFixed(2)}x)`;
    process.stdout.write(
      [
        `status benchmark, median of ${RUNS} rounds (each command once a round); cpu: mean user+system time`,
        ...cmds.map(row),
        `apt-ostree status vs ostree admin status: ${(status / ostree).toFixed(1)}x`,
        target('apt-ostree status (daemon)', status),
        target('apt-ostree status --json (daemon)', json),
        target('apt-ostree status (direct)', statusDirect),
        target('apt-ostree status --json (direct)', jsonDirect),
        `GetStatus round trip on an idle daemon, 1000 calls: median ${median(rt).toFixed(2)} ms, p99 ${pct(rt, 99).toFixed(2)} ms`,
        '',
      ].join('\n'),
    );
  } finally {
    await tb.stop();
    s.cleanup();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
