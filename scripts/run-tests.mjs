#!/usr/bin/env node
// Runs the compiled tests with node's test runner: unit tests first, then
// the integration tests (real OSTree, APT, dpkg, D-Bus). The boot test
// (QEMU, one vCPU under TCG: one core) runs in a second test process beside
// them, so that a 2-core machine uses both; its output is kept in
// .test-artifacts/e2e-output.log and printed once the other tests are done.
// The last line counts both: "total: N passed, N failed".
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

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

const e2e = files.filter((f) => rank(f) === 2);
const others = files.filter((f) => rank(f) !== 2);
const args = (list) => ['--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=spec', ...list];

/** Run one test process; its output to the terminal, or into a file (kept, printed later). */
function run(list, logFile) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args(list), { stdio: logFile ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (logFile) {
      const out = createWriteStream(logFile);
      child.stdout.pipe(out);
      child.stderr.pipe(out);
    }
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** The counts of node's closing summary ("ℹ pass N", "ℹ fail N") in a text. */
function counts(text) {
  const n = (k) => Number(new RegExp(`^ℹ ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { pass: n('pass'), fail: n('fail') };
}

if (e2e.length === 0 || others.length === 0) {
  process.exit(await run(files));
}

const artifacts = join(root, '.test-artifacts');
mkdirSync(artifacts, { recursive: true });
const e2eLog = join(artifacts, 'e2e-output.log');
const othersLog = join(artifacts, 'tests-output.log');
console.log(`run-tests: the boot test runs beside the other tests; its output: ${relative(root, e2eLog)}`);
const started = Date.now();
const e2eDone = run(e2e, e2eLog);
// The other tests print as they go, and are kept too (for the total below).
const othersCode = await new Promise((resolve) => {
  const child = spawn(process.execPath, args(others), { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(othersLog);
  for (const s of [child.stdout, child.stderr]) {
    s.on('data', (b) => {
      process.stdout.write(b);
      out.write(b);
    });
  }
  child.on('close', (code) => {
    out.end();
    resolve(code ?? 1);
  });
});
console.log(`run-tests: the other tests ended after ${Math.round((Date.now() - started) / 1000)} s; waiting for the boot test`);
const e2eCode = await e2eDone;
console.log(`\n=== the boot test (${relative(root, e2eLog)}), ended after ${Math.round((Date.now() - started) / 1000)} s\n`);
process.stdout.write(readFileSync(e2eLog, 'utf8'));
const a = counts(readFileSync(othersLog, 'utf8'));
const b = counts(readFileSync(e2eLog, 'utf8'));
console.log(`\ntotal: ${a.pass + b.pass} passed, ${a.fail + b.fail} failed`);
process.exit(othersCode !== 0 ? othersCode : e2eCode);
