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
 *   - `apt-ostree --version`: the CLI's start-up alone;
 *   - a fresh client process that connects to the bus and calls GetStatus
 *     (the cost of a status served by the daemon);
 * target: apt-ostree status at most 1.5x the floor. Then the GetStatus round
 * trip on one connection to an idle daemon: median and 99th percentile over
 * 1000 calls.
 */
import { spawnSync } from 'node:child_process';
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

function timeCmd(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    xs.push(ms);
  }
  return median(xs);
}

async function main(): Promise<void> {
  const s = await makeSysroot({ source: 'mini', prefix: 'bench-status' });
  const tb = await startTestBus();
  try {
    await tb.startDaemon(s.path);
    const env = { ...tb.env };
    // Interleave the warm-up so caches are equally warm for all.
    timeCmd(process.execPath, [CLI, '--sysroot', s.path, 'status'], env);
    const floor = timeCmd(process.execPath, ['-e', '0'], env);
    const ostree = timeCmd('ostree', ['admin', 'status', `--sysroot=${s.path}`], env);
    const status = timeCmd(process.execPath, [CLI, '--sysroot', s.path, 'status'], env);
    const json = timeCmd(process.execPath, [CLI, '--sysroot', s.path, 'status', '--json'], env);
    const direct = { ...env, APT_OSTREE_DIRECT: '1' };
    const statusDirect = timeCmd(process.execPath, [CLI, '--sysroot', s.path, 'status'], direct);
    const jsonDirect = timeCmd(process.execPath, [CLI, '--sysroot', s.path, 'status', '--json'], direct);
    const version = timeCmd(process.execPath, [CLI, '--version'], env);
    const client = `const {BusConnection}=require(${JSON.stringify(join(ROOT, 'dist/src/dbus/bus.js'))});
BusConnection.connect().then(async b=>{const r=await b.call({destination:'org.aptostree.dev',path:'/org/aptostree/dev',interface:'org.aptostree.dev.Daemon',member:'GetStatus'});process.stdout.write(String(r.body[0]).slice(0,1));b.close();});`;
    const viaDaemon = timeCmd(process.execPath, ['-e', client], env);

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
    const row = (name: string, ms: number): string =>
      `${name.padEnd(44)} ${ms.toFixed(1).padStart(7)} ms  ${(ms / floor).toFixed(2)}x floor`;
    process.stdout.write(
      [
        `status benchmark, median of ${RUNS} runs each`,
        row('node -e 0 (floor)', floor),
        row('ostree admin status', ostree),
        row('apt-ostree status (daemon)', status),
        row('apt-ostree status --json (daemon)', json),
        row('apt-ostree status (direct)', statusDirect),
        row('apt-ostree status --json (direct)', jsonDirect),
        row('apt-ostree --version', version),
        row('fresh client: connect + GetStatus', viaDaemon),
        `apt-ostree status vs ostree admin status: ${(status / ostree).toFixed(1)}x`,
        `target apt-ostree status (daemon) <= 1.5x floor: ${status / floor <= 1.5 ? 'met' : 'NOT met'} (${(status / floor).toFixed(2)}x)`,
        `target apt-ostree status (direct) <= 1.5x floor: ${statusDirect / floor <= 1.5 ? 'met' : 'NOT met'} (${(statusDirect / floor).toFixed(2)}x)`,
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
