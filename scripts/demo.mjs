#!/usr/bin/env node
// The demo: compose a small Debian base into an OSTree repository, make a
// sysroot from it in the project's .demo/ directory, then use it the way an
// admin would: status, layer a real Debian package, change kernel arguments,
// roll back, and compare package sets. The machine's own / is never touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const demo = join(root, '.demo');
const repo = join(demo, 'repo');
const sysroot = join(demo, 'sysroot');
const treefile = join(demo, 'demo-base.yaml');
const ref = 'debian/bookworm/x86_64/demo';
const cli = join(root, 'bin', 'apt-ostree');

const TREEFILE = `# The demo's base: Debian 12 minbase from this machine's APT sources.
ref: ${ref}
suite: bookworm
variant: minbase
packages: [apt, dpkg]
kernel: placeholder
`;

function step(title, args, { allowFail = false } = {}) {
  process.stdout.write(`\n\x1b[1m$ apt-ostree ${args.join(' ')}\x1b[0m   # ${title}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit', env: { ...process.env, APT_OSTREE_DIRECT: '1' } });
  if (r.status !== 0 && !allowFail) {
    console.error(`demo: step failed (exit ${r.status}): apt-ostree ${args.join(' ')}`);
    process.exit(1);
  }
}

mkdirSync(demo, { recursive: true });
writeFileSync(treefile, TREEFILE);
step('build the base image (a second run finds no change)', ['compose', 'tree', treefile, '--repo', repo]);
if (existsSync(sysroot)) {
  // A fresh sysroot each run; deployments are immutable (chattr +i), lift that first.
  spawnSync('sh', ['-c', `chattr -R -i "${sysroot}" 2>/dev/null; rm -rf "${sysroot}"`], { stdio: 'inherit' });
}
step('install it into a sysroot, as an installer would', [
  'compose',
  'sysroot',
  '--repo',
  repo,
  '--ref',
  ref,
  '--karg',
  'root=LABEL=demo',
  sysroot,
]);
const S = ['--sysroot', sysroot];
step('the deployments', [...S, 'status']);
step('layer a package from the Debian archive', [...S, 'install', 'hello']);
step('the new deployment is the default, the old one the rollback', [...S, 'status']);
step('what changed between them', [...S, 'db', 'diff']);
step('kernel arguments: a new deployment of the same commit', [...S, 'kargs', '--append', 'quiet']);
step('go back to the previous deployment', [...S, 'rollback']);
step('the deployments, as JSON', [...S, 'status', '--json']);
console.log(`\ndemo: done. The sysroot is in ${sysroot}; try: bin/apt-ostree --sysroot ${sysroot} status -v`);
