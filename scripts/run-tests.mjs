#!/usr/bin/env node
// Runs the compiled tests with node's test runner: unit tests first, then
// the integration tests (real OSTree, APT, dpkg, D-Bus), then the boot test.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testsDir = join(root, 'dist', 'tests');
const only = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const rank = (p) => (p.includes('/unit/') ? 0 : p.includes('/e2e/') ? 2 : 1);
let files = walk(testsDir).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
if (process.env.APT_OSTREE_SKIP_E2E === '1') files = files.filter((f) => rank(f) !== 2);
if (only.length > 0) files = files.filter((f) => only.some((o) => relative(root, f).includes(o)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
