#!/usr/bin/env node
// `npm run build:cockpit`: type-checks the Cockpit page (cockpit/tsconfig.json)
// and bundles it with esbuild into dist/cockpit/apt-ostree/: index.html,
// manifest.json, index.js and index.css, with PatternFly's fonts beside them.
// Nothing is loaded from outside the machine but ../base1/cockpit.js, which
// Cockpit serves to every page.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'cockpit');
const out = join(root, 'dist', 'cockpit', 'apt-ostree');

const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(src, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'src', 'index.tsx')],
  outdir: out,
  entryNames: 'index',
  assetNames: 'assets/[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.woff2': 'file', '.woff': 'file', '.svg': 'file', '.png': 'file', '.jpg': 'file' },
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'manifest.json']) copyFileSync(join(src, f), join(out, f));
