#!/usr/bin/env node
// `npm run build:bundle`: one JavaScript file per executable under dist/bundle/,
// which bin/apt-ostree and bin/apt-ostreed run (and the .deb installs). Node
// reads one file instead of hundreds of modules and their package.json
// lookups: that is most of the CLI's start-up.
//
//   apt-ostree.js   the CLI's entry (src/cli/entry.ts): the status path only
//   cli.js          the full CLI (src/cli/main.ts), loaded by apt-ostree.js for
//                   every other command line
//   apt-ostreed.js  the daemon (src/daemon/main.ts)
//   overlay-run.js  the layering helper process (assemble.ts runs it from its
//                   own directory)
//
// The native libostree addon stays a separate file (native/build/Release),
// found from the bundle's directory (src/engine/ostree/native.ts).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(new URL('..', import.meta.url).pathname);
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // Debian 12's nodejs is 18.
  target: 'node18',
  outdir,
  absWorkingDir: root,
  logLevel: 'warning',
  legalComments: 'none',
  // The addon's path is computed at run time (native.ts): leave that require alone.
  logOverride: { 'unsupported-require-call': 'silent' },
  // Optional dependencies of dbus-next on paths apt-ostree never takes (X11
  // autolaunch of a session bus; fd passing), not installed: they stay
  // run-time requires that are never reached.
  external: ['x11', 'usocket'],
};

// The entry keeps the full CLI out: its require('./main') becomes the sibling bundle cli.js.
const fullCliApart = {
  name: 'full-cli-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/main$/ }, (args) =>
      args.importer.endsWith(join('src', 'cli', 'entry.ts')) ? { path: './cli.js', external: true } : undefined,
    );
  },
};

// A require of a module by a computed name in a directory (`./commands/${verb}`: main.ts loads only the
// verb invoked) becomes a table of that directory's files in the bundle, keyed by their names with the
// .ts extension: name them so in the bundle's copy of the source.
const computedRequires = {
  name: 'computed-requires',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const re = /require\(`(\.{1,2}\/(?:[\w-]+\/)*)\$\{(\w+)\}`\)/g;
      return re.test(text) ? { contents: text.replace(re, 'require(`$1${$2}.ts`)'), loader: 'ts' } : undefined;
    });
  },
};

await build({
  ...common,
  entryPoints: { 'apt-ostree': 'src/cli/entry.ts' },
  plugins: [fullCliApart],
});
await build({
  ...common,
  entryPoints: {
    cli: 'src/cli/main.ts',
    'apt-ostreed': 'src/daemon/main.ts',
    'overlay-run': 'src/engine/layering/overlay-run.ts',
  },
  plugins: [computedRequires],
});
