/**
 * Layering semantics as rpm-ostree defines them, on a directory sysroot of the
 * Debian base with a fixture archive (its only APT source): the sandbox of the
 * maintainer scripts, /opt and /usr/local content, local packages of the
 * base, layered packages that would change the base, refresh-md, and what
 * status and the commit metadata say.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildArchive, buildDeb, type FixtureArchive, type FixturePackage } from '../lib/archive';
import { runCliAsync, type RepoServer } from '../lib/http-repo';
import { sh } from '../lib/env';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';
import { loadSysroot, type Deployment } from '../../src/engine/sysroot';

let sys: SysrootFixture;
let archive: FixtureArchive;
let server: RepoServer;

const cli = (...args: string[]): ReturnType<typeof runCliAsync> => runCliAsync(['--sysroot', sys.path, ...args]);

async function deployments(): Promise<Deployment[]> {
  return (await loadSysroot(sys.path)).deployments;
}

async function top(): Promise<Deployment> {
  const d = (await deployments())[0];
  assert.ok(d, 'a deployment');
  return d;
}

const ids = async (): Promise<string[]> => (await deployments()).map((d) => `${d.checksum}.${d.serial}`);

function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
}

/** Paths of a commit (ostree ls -R), relative with a leading /. */
function commitPaths(rev: string, dir: string): string[] {
  const out = sh('ostree', ['ls', `--repo=${sys.repo}`, '-R', rev, dir], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[4] ?? '')
    .filter((p) => p.startsWith('/'));
}

const fixtures: FixturePackage[] = [
  {
    name: 'fx-scripts',
    version: '1.0',
    postinst: [
      'mkdir -p /usr/share/fx-scripts',
      '{',
      '  touch /var/tmp/fx-scratch && echo var-tmp=writable || echo var-tmp=failed',
      '  touch /tmp/fx-scratch && echo tmp=writable || echo tmp=failed',
      '  touch /run/fx-scratch && echo run=writable || echo run=failed',
      '  echo "systemd-offline=${SYSTEMD_OFFLINE:-unset}"',
      "  grep -E '^(Cap(Eff|Prm)|NoNewPrivs):' /proc/self/status",
      '} > /usr/share/fx-scripts/report',
    ].join('\n'),
  },
  { name: 'fx-opt', version: '1.0', files: { '/opt/fx-opt/bin/fx-opt-tool': '#!/bin/sh\necho fx-opt\n' } },
  { name: 'fx-local', version: '1.0', files: { '/usr/local/bin/fx-local-tool': '#!/bin/sh\necho fx-local\n' } },
  // A layered package that needs a newer version of a base package (adduser) that the archive offers.
  { name: 'fx-needs-newer', version: '1.0', depends: 'adduser (>= 99)' },
  { name: 'adduser', version: '99.0', files: { '/usr/share/fx-adduser-99/x': 'x\n' } },
];

describe('layering semantics', { timeout: 20 * 60 * 1000 }, () => {
  before(async () => {
    sys = await makeSysroot({ prefix: 'layering-sem' });
    archive = buildArchive(fixtures, 'layering-sem-archive');
    const served = await archive.serve();
    server = served.server;
    // The fixture archive is the deployment's only source: hermetic, and refresh-md is quick.
    const d = await top();
    const apt = join(d.deployPath, 'etc/apt');
    writeFileSync(join(apt, 'sources.list'), `${served.source}\n`);
    for (const n of readdirSync(join(apt, 'sources.list.d'))) rmSync(join(apt, 'sources.list.d', n), { force: true });
  });

  after(async () => {
    await server?.close();
    sys?.cleanup();
    if (archive) sh('rm', ['-rf', archive.dir]);
  });

  it('maintainer scripts get writable /run, /tmp and /var/tmp, not committed, and SYSTEMD_OFFLINE=1', async () => {
    ok(await cli('install', 'fx-scripts'), 'install fx-scripts');
    const d = await top();
    const report = readFileSync(join(d.deployPath, 'usr/share/fx-scripts/report'), 'utf8');
    assert.match(report, /^var-tmp=writable$/m, report);
    assert.match(report, /^tmp=writable$/m, report);
    assert.match(report, /^run=writable$/m, report);
    assert.match(report, /^systemd-offline=1$/m, report);
    const paths = [...commitPaths(d.checksum, '/var'), ...commitPaths(d.checksum, '/usr/lib/tmpfiles.d')];
    assert.ok(!paths.some((p) => p.includes('fx-scratch')), `nothing of the scratch directories is committed: ${paths.join(' ')}`);
    const tmpfiles = join(d.deployPath, 'usr/lib/tmpfiles.d/apt-ostree-layered.conf');
    if (existsSync(tmpfiles)) assert.doesNotMatch(readFileSync(tmpfiles, 'utf8'), /\/var\/tmp|fx-scratch/);
  });

  it('maintainer scripts run without CAP_SYS_ADMIN and cannot regain it, with CAP_CHOWN', async () => {
    const report = readFileSync(join((await top()).deployPath, 'usr/share/fx-scripts/report'), 'utf8');
    const eff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(report)?.[1] ?? 'x'}`);
    const prm = BigInt(`0x${/^CapPrm:\s*([0-9a-f]+)$/m.exec(report)?.[1] ?? 'x'}`);
    const CAP_CHOWN = 0n;
    const CAP_MKNOD = 27n;
    const CAP_SYS_ADMIN = 21n;
    const CAP_SETFCAP = 31n;
    const has = (set: bigint, cap: bigint): boolean => ((set >> cap) & 1n) === 1n;
    assert.ok(!has(eff, CAP_SYS_ADMIN), `CapEff ${eff.toString(16)} has no CAP_SYS_ADMIN`);
    assert.ok(!has(prm, CAP_SYS_ADMIN), `CapPrm ${prm.toString(16)} has no CAP_SYS_ADMIN`);
    // No exec (of a setuid program, or of anything as root) gives a dropped capability back.
    assert.match(report, /^NoNewPrivs:\s*1$/m);
    assert.ok(!has(eff, CAP_MKNOD), 'no CAP_MKNOD');
    assert.ok(has(eff, CAP_CHOWN) && has(eff, CAP_SETFCAP), `CapEff ${eff.toString(16)} keeps CAP_CHOWN and CAP_SETFCAP`);
  });

  it('status: base-checksum only on layered deployments; layered commits carry ostree.bootable', async () => {
    const r = await cli('status', '--json');
    ok(r, 'status --json');
    const j = JSON.parse(r.stdout) as { deployments: { checksum: string; 'base-checksum'?: string }[] };
    const [layered, base] = j.deployments;
    assert.equal(layered!['base-checksum'], sys.checksum);
    assert.ok(!('base-checksum' in base!), 'no base-checksum on a deployment that is its own base');
    const d = await top();
    assert.equal(d.commitMetadata['ostree.bootable'], true);
  });

  it('/opt content moves to /usr/lib/opt with a tmpfiles.d symlink; /opt stays a symlink', async () => {
    ok(await cli('install', 'fx-opt'), 'install fx-opt');
    const d = await top();
    assert.ok(lstatSync(join(d.deployPath, 'opt')).isSymbolicLink(), '/opt is still a symlink');
    assert.equal(readlinkSync(join(d.deployPath, 'opt')), 'var/opt');
    assert.ok(lstatSync(join(d.deployPath, 'usr/local')).isSymbolicLink(), '/usr/local is still a symlink');
    assert.equal(readFileSync(join(d.deployPath, 'usr/lib/opt/fx-opt/bin/fx-opt-tool'), 'utf8'), '#!/bin/sh\necho fx-opt\n');
    const conf = readFileSync(join(d.deployPath, 'usr/lib/tmpfiles.d/apt-ostree-layered.conf'), 'utf8');
    assert.match(conf, /^L \/var\/opt\/fx-opt - - - - \/usr\/lib\/opt\/fx-opt$/m);
    assert.ok(!commitPaths(d.checksum, '/usr/share/factory').some((p) => p.includes('fx-opt')), 'not copied into /var');
  });

  it('/usr/local content is refused, naming the package and the file; nothing deployed', async () => {
    const before0 = await ids();
    const r = await cli('install', 'fx-local');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /fx-local/);
    assert.match(r.stderr, /\/usr\/local\/bin\/fx-local-tool/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await ids(), before0);
  });

  it('uninstall --idempotent of a package that is not layered is a no-op (exit 77 with --unchanged-exit-77)', async () => {
    const before0 = await ids();
    const r = await cli('uninstall', '--idempotent', '--unchanged-exit-77', 'fx-never-installed');
    assert.equal(r.code, 77, r.stdout + r.stderr);
    assert.deepEqual(await ids(), before0);
  });

  it('a layered package that needs a newer base package is refused, naming the base package and versions', async () => {
    const before0 = await ids();
    const r = await cli('install', 'fx-needs-newer');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /adduser 3\.\S+ -> 99\.0/);
    assert.match(r.stderr, /override replace/);
    const dry = await cli('install', '-n', 'fx-needs-newer');
    assert.equal(dry.code, 1, dry.stdout);
    assert.deepEqual(await ids(), before0);
  });

  it('a local .deb of a base package, or of one an override removed, is refused with a hint to override replace', async () => {
    const before0 = await ids();
    const own = buildDeb(archive.dir, { name: 'adduser', version: '3.134+local1', files: { '/usr/share/fx-local-adduser': 'x\n' } });
    const r = await cli('install', own);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /adduser is a package of the base/);
    assert.match(r.stderr, /override replace/);
    assert.deepEqual(await ids(), before0);
    ok(await cli('override', 'remove', 'e2fsprogs'), 'override remove e2fsprogs');
    const removed = await ids();
    const e2 = buildDeb(archive.dir, { name: 'e2fsprogs', version: '99.0', files: { '/usr/share/fx-e2': 'x\n' } });
    const r2 = await cli('install', e2);
    assert.equal(r2.code, 1, r2.stdout);
    assert.match(r2.stderr, /e2fsprogs was removed from the base/);
    assert.match(r2.stderr, /override reset e2fsprogs[\s\S]*override replace/);
    assert.deepEqual(await ids(), removed);
  });

  it('refresh-md keeps unchanged metadata; refresh-md -f downloads it again', async () => {
    ok(await cli('refresh-md'), 'refresh-md');
    server.resetStats();
    ok(await cli('refresh-md'), 'refresh-md again');
    assert.ok(!server.requests.some((p) => /Packages/.test(p)), `unchanged lists are not downloaded again: ${server.requests.join(' ')}`);
    server.resetStats();
    ok(await cli('refresh-md', '-f'), 'refresh-md -f');
    assert.ok(
      server.requests.some((p) => /Packages/.test(p)),
      `-f downloads the package lists again: ${server.requests.join(' ')}`,
    );
  });
});
