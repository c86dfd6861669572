/**
 * Benchmark of updates (run: node dist/bench/upgrade.js).
 *
 *  1. Upgrade v1 -> v2 of the composed test base (v2 adds a few packages)
 *     from a repository served over loopback HTTP: bytes the server sent for
 *     the whole `apt-ostree upgrade` against the size of the objects that v2
 *     has and v1 has not (target: at most 1.2x), without and with a static
 *     delta v1 -> v2.
 *  2. A kargs change on a deployment with 20 layered packages against the
 *     full layering of those 20 packages (target: at most 0.1x).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSysroot } from '../src/engine/sysroot';
import { buildArchive, type FixturePackage } from '../tests/lib/archive';
import { removeTree, sh } from '../tests/lib/env';
import { runCliAsync } from '../tests/lib/http-repo';
import { changedObjectBytes, serveBase, sysrootAtV1 } from '../tests/updates/fixture';

async function cli(sysroot: string, ...args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await runCliAsync(['--sysroot', sysroot, ...args]);
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.code !== 0) throw new Error(`apt-ostree ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return s;
}

const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const served = await serveBase('bench-upgrade');
  let archive: { dir: string } | undefined;
  let archiveServer: { close(): Promise<void> } | undefined;
  try {
    // 1. bytes of an upgrade
    const changed = changedObjectBytes(served.repo, served.v1, served.v2);
    const plain = await sysrootAtV1(served, 'plain');
    served.server.resetStats();
    await cli(plain, 'upgrade');
    const plainBytes = served.server.bytes;
    const plainReqs = served.server.requests.length;
    sh('ostree', ['static-delta', 'generate', `--repo=${served.repo}`, `--from=${served.v1}`, `--to=${served.v2}`]);
    served.summary();
    const delta = await sysrootAtV1(served, 'delta');
    served.server.resetStats();
    await cli(delta, 'upgrade');
    const deltaBytes = served.server.bytes;
    const deltaReqs = served.server.requests.length;
    const ok = (await loadSysroot(delta)).deployments[0]!.baseChecksum === served.v2;
    if (!ok) throw new Error('the delta upgrade did not reach v2');
    process.stdout.write(
      [
        'upgrade v1 -> v2 (bytes sent by the HTTP server for the whole upgrade)',
        `  changed objects (v2 minus v1, archive-compressed): ${changed.count} objects, ${kib(changed.bytes)}`,
        `  without static delta: ${kib(plainBytes)} in ${plainReqs} requests  ratio ${(plainBytes / changed.bytes).toFixed(2)}x (target <= 1.2x)`,
        `  with static delta:    ${kib(deltaBytes)} in ${deltaReqs} requests  ratio ${(deltaBytes / changed.bytes).toFixed(2)}x (target <= 1.2x)`,
        '',
      ].join('\n'),
    );

    // 2. kargs on a deployment with 20 layered packages vs layering them
    const pkgs: FixturePackage[] = Array.from({ length: 20 }, (_, i) => {
      const n = String(i + 1).padStart(2, '0');
      const files: Record<string, string> = {};
      for (let f = 0; f < 20; f++) files[`/usr/share/bench-${n}/file-${f}.txt`] = `bench package ${n} file ${f}\n`.repeat(200);
      files[`/usr/bin/bench-${n}`] = `#!/bin/sh\necho bench-${n}\n`;
      return { name: `bench-${n}`, version: '1.0', files };
    });
    const a = buildArchive(pkgs, 'bench-archive');
    archive = a;
    const { server, source } = await a.serve();
    archiveServer = server;
    const layered = await sysrootAtV1(served, 'layered');
    const d = (await loadSysroot(layered)).deployments[0]!;
    mkdirSync(join(d.deployPath, 'etc/apt/sources.list.d'), { recursive: true });
    writeFileSync(join(d.deployPath, 'etc/apt/sources.list.d/bench.list'), `${source}\n`);
    await cli(layered, 'refresh-md');
    const names = pkgs.map((p) => p.name);
    const tLayer = await cli(layered, 'install', ...names);
    const tKargs = await cli(layered, 'kargs', '--append=bench.karg=1');
    const after = (await loadSysroot(layered)).deployments[0]!;
    if (!after.kargs.includes('bench.karg=1')) throw new Error('kargs change not visible');
    process.stdout.write(
      [
        'kargs change on a deployment with 20 layered packages vs layering the 20 packages',
        `  install of 20 packages: ${tLayer.toFixed(2)} s`,
        `  kargs --append:         ${tKargs.toFixed(2)} s  ratio ${(tKargs / tLayer).toFixed(3)}x (target <= 0.1x)`,
        '',
      ].join('\n'),
    );
  } finally {
    await archiveServer?.close();
    if (archive) removeTree(archive.dir);
    await served.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
