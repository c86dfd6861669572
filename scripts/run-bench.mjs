#!/usr/bin/env node
// Runs the benchmarks (compiled to dist/bench/), or those named: `npm run bench -- layering`.
// Each prints its figures as ratios against a baseline measured in the same run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = join(new URL('..', import.meta.url).pathname, 'dist', 'bench');
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench/${b.replace(/\.js$/, '.ts')}`);
  const r = spawnSync(process.execPath, [join(dir, b)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
