/**
 * Benchmark of `apt-ostree compose tree` (run: node dist/bench/compose.js).
 *
 *  1. baseline: mmdebstrap alone of the same package set from the same
 *     sources, plus one `ostree commit` of its output into a fresh archive
 *     repo (after deleting the device nodes in /dev, which ostree cannot commit);
 *  2. `apt-ostree compose tree` of a minbase treefile into a fresh repo
 *     (target: at most 1.3x the baseline);
 *  3. the same compose again, inputs unchanged: "no change"
 *     (target: at most 0.1x the full compose).
 * Wall-clock ratios are the targets; CPU time is printed too, since on a
 * shared machine wall time of disk- and network-bound steps is noisy.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveSources, sourceLine } from '../src/engine/compose/mirror';

const ROOT = resolve(__dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'apt-ostree');
const SUITE = 'bookworm';
const PACKAGES = ['apt', 'dpkg'];

/** CPU seconds (user + system) of this process's reaped children, from /proc/self/stat. */
function childCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 of stat (cutime, cstime), counted from after the comm field
  return (Number(f[13]) + Number(f[14])) / 100;
}

const cpu: Record<string, number> = {};

function timed(what: string, cmd: string, args: string[]): number {
  const cpu0 = childCpu();
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) {
    throw new Error(`${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  cpu[what] = childCpu() - cpu0;
  return s;
}

function main(): void {
  const base = process.env.APT_OSTREE_BENCH_DIR ?? '/var/tmp/apt-ostree-bench';
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(join(base, 'compose-'));
  try {
    const sources = resolveSources([], SUITE, ['main']).map(sourceLine);
    // Baseline: mmdebstrap + one ostree commit.
    const rootfs = join(work, 'rootfs');
    const baseRepo = join(work, 'baseline-repo');
    const tMm = timed('mmdebstrap', 'mmdebstrap', [
      '--mode=root',
      '--variant=minbase',
      `--include=${PACKAGES.join(',')}`,
      SUITE,
      rootfs,
      ...sources,
    ]);
    for (const n of readdirSync(join(rootfs, 'dev'))) rmSync(join(rootfs, 'dev', n), { recursive: true, force: true });
    timed('ostree init', 'ostree', ['init', `--repo=${baseRepo}`, '--mode=archive']);
    const tCommit = timed('ostree commit', 'ostree', ['commit', `--repo=${baseRepo}`, '--branch=bench/baseline', `--tree=dir=${rootfs}`]);
    rmSync(rootfs, { recursive: true, force: true });
    const tBaseline = tMm + tCommit;

    // compose tree, then again with unchanged inputs.
    const tf = join(work, 'tree.yaml');
    writeFileSync(
      tf,
      `ref: bench/${SUITE}/minbase\nsuite: ${SUITE}\nvariant: minbase\npackages: [${PACKAGES.join(', ')}]\nkernel: placeholder\n`,
    );
    const repo = join(work, 'repo');
    const tCompose = timed('compose tree', process.execPath, [CLI, 'compose', 'tree', tf, '--repo', repo]);
    const tNoChange = timed('compose tree (no change)', process.execPath, [CLI, 'compose', 'tree', tf, '--repo', repo]);

    const cBaseline = (cpu['mmdebstrap'] ?? 0) + (cpu['ostree commit'] ?? 0);
    const cCompose = cpu['compose tree'] ?? 0;
    const cNoChange = cpu['compose tree (no change)'] ?? 0;
    const r1 = tCompose / tBaseline;
    const r2 = tNoChange / tCompose;
    const f = (s: number): string => `${s.toFixed(2)} s`;
    process.stdout.write(
      [
        `compose tree benchmark (${SUITE} minbase + ${PACKAGES.join(', ')}; sources: ${sources.length})`,
        `  baseline: mmdebstrap ${f(tMm)} + ostree commit ${f(tCommit)} = ${f(tBaseline)}`,
        `  apt-ostree compose tree:              ${f(tCompose)}`,
        `  apt-ostree compose tree (no change):  ${f(tNoChange)}`,
        `  CPU time (user+sys of the processes): baseline ${f(cBaseline)}, compose ${f(cCompose)}, no change ${f(cNoChange)}`,
        `  compose / baseline:   ${r1.toFixed(2)}x (target <= 1.3x) ${r1 <= 1.3 ? 'ok' : 'MISSED'}; CPU ${(cCompose / cBaseline).toFixed(2)}x`,
        `  no change / compose:  ${r2.toFixed(3)}x (target <= 0.1x) ${r2 <= 0.1 ? 'ok' : 'MISSED'}`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
