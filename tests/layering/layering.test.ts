/**
 * Package layering end to end with the real CLI, APT, dpkg, bubblewrap and
 * OSTree, on a directory sysroot of the composed Debian base, with a fixture
 * archive served over loopback HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, readFileSync, readlinkSync, writeFileSync, mkdirSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildArchive, layeringFixtures, type FixtureArchive } from '../lib/archive';
import { runCliAsync, type RepoServer } from '../lib/http-repo';
import { CLI, sh } from '../lib/env';
import { spawn } from 'node:child_process';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';
import { loadSysroot, type Deployment } from '../../src/engine/sysroot';
import { parseOrigin } from '../../src/engine/origin';

let sys: SysrootFixture;
let archive: FixtureArchive;
let server: RepoServer;
let source: string;

const cli = (...args: string[]): ReturnType<typeof runCliAsync> => runCliAsync(['--sysroot', sys.path, ...args]);

async function deployments(): Promise<Deployment[]> {
  return (await loadSysroot(sys.path)).deployments;
}

async function top(): Promise<Deployment> {
  const d = (await deployments())[0];
  assert.ok(d, 'a deployment');
  return d;
}

function dpkgQuery(d: Deployment): Map<string, string> {
  const out = sh('dpkg-query', [
    `--admindir=${join(d.deployPath, 'usr/share/dpkg/database')}`,
    '-W',
    '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n',
  ]);
  const m = new Map<string, string>();
  for (const l of out.split('\n')) {
    const [n, v, st] = l.split('\t');
    if (n && st?.startsWith('ii')) m.set(n, v!);
  }
  return m;
}

function fsck(): void {
  const out = sh('ostree', ['fsck', `--repo=${sys.repo}`]);
  assert.match(out, /no errors found/);
}

function setSources(d: Deployment, line: string): void {
  const dir = join(d.deployPath, 'etc/apt/sources.list.d');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fixtures.list'), `${line}\n`);
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
}

describe('package layering', { timeout: 20 * 60 * 1000 }, () => {
  before(async () => {
    sys = await makeSysroot({ prefix: 'layering' });
    archive = buildArchive(layeringFixtures(), 'layering-archive');
    ({ server, source } = await archive.serve());
    const d = await top();
    setSources(d, source);
    // A local change to /etc/passwd: the /etc merge keeps it, and must not lose the user a layered package adds.
    appendFileSync(join(d.deployPath, 'etc/passwd'), 'localadmin:x:1000:1000::/home/localadmin:/bin/sh\n');
    appendFileSync(join(d.deployPath, 'etc/group'), 'localadmin:x:1000:\n');
  });

  after(async () => {
    await server?.close();
    sys?.cleanup();
    if (archive) sh('rm', ['-rf', archive.dir]);
  });

  it('installs packages with dependencies and full dpkg semantics in a new deployment', async () => {
    const before0 = await top();
    const r = await cli('install', 'fx-app', 'fx-conf', 'fx-user', 'fx-alt', 'fx-trig-src', 'fx-var', 'fx-divert', 'fx-probe');
    ok(r, 'install');
    const ds = await deployments();
    assert.equal(ds.length, 2);
    const d = ds[0]!;
    assert.notEqual(d.checksum, before0.checksum);
    assert.equal(ds[1]!.checksum, before0.checksum, 'the previous default stays as the rollback');
    assert.equal(d.baseChecksum, before0.checksum);
    // origin, in rpm-ostree's format
    const origin = parseOrigin(readFileSync(d.originPath, 'utf8'));
    assert.deepEqual(origin.requestedPackages, [
      'fx-app',
      'fx-conf',
      'fx-user',
      'fx-alt',
      'fx-trig-src',
      'fx-var',
      'fx-divert',
      'fx-probe',
    ]);
    assert.match(readFileSync(d.originPath, 'utf8'), /^baserefspec=/m);
    // dpkg-query -W in the new tree: requested packages and the dependencies
    const pk = dpkgQuery(d);
    for (const n of ['fx-app', 'fx-lib', 'fx-conf', 'fx-user', 'fx-alt', 'fx-trig-src', 'fx-var', 'fx-divert', 'fx-probe'])
      assert.equal(pk.get(n), '1.0', n);
    assert.ok(!dpkgQuery(ds[1]!).has('fx-app'), 'the old deployment is untouched');
    assert.equal(readFileSync(join(d.deployPath, 'usr/bin/fx-app'), 'utf8'), '#!/bin/sh\necho fx-app 1.0\n');
    // conffile: in /usr/etc, merged into /etc
    assert.equal(readFileSync(join(d.deployPath, 'usr/etc/fx-conf/fx.conf'), 'utf8'), 'setting = packaged\n');
    assert.equal(readFileSync(join(d.deployPath, 'etc/fx-conf/fx.conf'), 'utf8'), 'setting = packaged\n');
    // system user: in the tree, declared for sysusers, and in the deployment's (locally modified) /etc
    assert.match(readFileSync(join(d.deployPath, 'usr/etc/passwd'), 'utf8'), /^fxuser:x:\d+:\d+:/m);
    assert.match(readFileSync(join(d.deployPath, 'usr/lib/sysusers.d/apt-ostree-layered.conf'), 'utf8'), /^u fxuser \d+:\d+ /m);
    const passwd = readFileSync(join(d.deployPath, 'etc/passwd'), 'utf8');
    assert.match(passwd, /^fxuser:x:\d+:\d+:/m);
    assert.match(passwd, /^localadmin:/m, 'the local change to /etc/passwd is kept');
    assert.match(readFileSync(join(d.deployPath, 'etc/group'), 'utf8'), /^fxuser:x:\d+:/m);
    // alternative
    assert.equal(readlinkSync(join(d.deployPath, 'usr/bin/fx-editor')), '/etc/alternatives/fx-editor');
    assert.equal(readlinkSync(join(d.deployPath, 'usr/etc/alternatives/fx-editor')), '/usr/bin/fx-alt-editor');
    // trigger: libc-bin's (base) ldconfig trigger ran
    assert.ok(
      readFileSync(join(d.deployPath, 'usr/etc/ld.so.cache')).includes('/usr/lib/fx-trig/libmd.so.0'),
      'ldconfig ran through the trigger',
    );
    assert.doesNotMatch(
      sh('dpkg-query', [
        `--admindir=${join(d.deployPath, 'usr/share/dpkg/database')}`,
        '-W',
        '-f=${Package} ${Triggers-Pending}\n',
        'libc-bin',
      ]),
      /ldconfig/,
    );
    // diversion of a base file
    assert.equal(readFileSync(join(d.deployPath, 'usr/bin/savelog'), 'utf8'), '#!/bin/sh\necho diverted savelog\n');
    assert.ok(existsSync(join(d.deployPath, 'usr/bin/savelog.distrib')));
    assert.match(
      readFileSync(join(d.deployPath, 'usr/share/dpkg/database/diversions'), 'utf8'),
      /\/usr\/bin\/savelog\n\/usr\/bin\/savelog\.distrib\nfx-divert/,
    );
    // /var content became tmpfiles.d entries
    const tmpfiles = readFileSync(join(d.deployPath, 'usr/lib/tmpfiles.d/apt-ostree-layered.conf'), 'utf8');
    assert.match(tmpfiles, /^d \/var\/lib\/fx-var 0755 root root/m);
    assert.match(tmpfiles, /^C \/var\/lib\/fx-var\/data\.txt /m);
    assert.deepEqual(
      readdirSync(join(d.deployPath, 'var')).filter((n) => n !== '.'),
      [],
      'the commit has an empty /var',
    );
    // sandbox of the maintainer scripts
    const probe = readFileSync(join(d.deployPath, 'usr/share/fx-probe/report'), 'utf8');
    assert.match(probe, /^ostree-booted=yes$/m);
    assert.match(probe, /^hostname=apt-ostree$/m);
    assert.match(probe, /^netdevs=1$/m, 'only loopback: no network');
    assert.match(probe, /^policy=101$/m, 'policy-rc.d forbids starting services');
    assert.match(probe, /^host-work=hidden$/m);
    assert.ok(Number(/^pid=(\d+)$/m.exec(probe)?.[1]) < 100, 'own pid namespace');
    // the commit's metadata and the repo
    assert.equal(d.commitMetadata['aptostree.clientlayer'], 'true');
    assert.ok(String(d.commitMetadata['aptostree.packages']).includes('"fx-app","1.0"'));
    assert.match(sh('ostree', ['refs', `--repo=${sys.repo}`]), /^aptostree\/pkg\/fx-app\/1\.0_all$/m);
    assert.deepEqual(
      readdirSync(join(sys.repo, 'tmp')).filter((n) => n.startsWith('apt-ostree')),
      [],
    );
    fsck();
  });

  it('--idempotent makes a repeated request a no-op; without it the request is refused', async () => {
    const n = (await deployments()).length;
    const r = await cli('install', '--idempotent', '--unchanged-exit-77', 'fx-app');
    assert.equal(r.code, 77, r.stderr);
    const r2 = await cli('install', 'fx-app');
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /fx-app is already requested/);
    assert.equal((await deployments()).length, n);
  });

  it('--dry-run shows the plan and deploys nothing', async () => {
    const csum = (await top()).checksum;
    const r = await cli('install', '-n', 'fx-extra');
    ok(r, 'dry run');
    assert.match(r.stdout, /install fx-extra 1\.0 all/);
    assert.equal((await top()).checksum, csum);
  });

  it('refuses bad input with a clear error and no new deployment', async () => {
    const csum = (await top()).checksum;
    const cases: Array<[string[], RegExp]> = [
      [['install', 'no-such-package-xyz'], /not found: no-such-package-xyz/],
      [['install', 'apt'], /apt is provided by the base[\s\S]*--allow-inactive/],
      [['install', 'fx-conflict'], /conflict with the base[\s\S]*adduser/],
      [['install', '--', '../x'], /"\.\.\/x" is not a valid package name/],
      [['install', '--', '-o', 'Foo=1'], /"-o" is not a valid package name/],
      [['install', ''], /an empty package name/],
      [['install', 'foo;rm -rf /'], /is not a valid package name/],
      [['install', 'fx-fail'], /installing the packages failed[\s\S]*fx-fail postinst: deliberate failure for the test/],
      [['uninstall', 'fx-extra'], /fx-extra is not a layered package/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const corrupt = join(archive.dir, 'corrupt_1.0_all.deb');
    writeFileSync(corrupt, readFileSync(archive.debs.get('fx-extra')!).subarray(0, 300));
    const r = await cli('install', corrupt);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a valid Debian package/);
    assert.equal((await top()).checksum, csum);
    assert.equal((await deployments()).length, 2);
    fsck();
  });

  it('--allow-inactive records a request for a base package', async () => {
    const r = await cli('install', '--allow-inactive', 'adduser');
    ok(r, 'install --allow-inactive');
    const d = await top();
    assert.ok(d.origin?.requestedPackages.includes('adduser'));
    assert.ok(!JSON.parse(String(d.commitMetadata['aptostree.layered-packages'])).includes('adduser'));
  });

  it('uninstalls a layered package; the others stay', async () => {
    const r = await cli('uninstall', 'fx-alt', 'adduser');
    ok(r, 'uninstall');
    const d = await top();
    const pk = dpkgQuery(d);
    assert.ok(!pk.has('fx-alt'));
    assert.ok(pk.has('fx-app'));
    assert.ok(!existsSync(join(d.deployPath, 'usr/bin/fx-alt-editor')));
    assert.ok(!d.origin?.requestedPackages.includes('fx-alt'));
    fsck();
  });

  it('installs local .deb files, replaces and removes base packages, and resets', async () => {
    const local = archive.debs.get('fx-extra')!;
    // A dry run plans with the file itself and imports nothing into the repository.
    const refs0 = sh('ostree', ['refs', `--repo=${sys.repo}`]);
    const dry = await cli('install', '-n', local);
    ok(dry, 'dry run of a local package');
    assert.match(dry.stdout, /install fx-extra 1\.0 all/);
    assert.equal(sh('ostree', ['refs', `--repo=${sys.repo}`]), refs0, 'a dry run imports nothing');
    ok(await cli('install', local), 'install local');
    let d = await top();
    assert.equal(dpkgQuery(d).get('fx-extra'), '1.0');
    assert.equal(d.origin?.requestedLocalPackages.length, 1);
    assert.match(readFileSync(d.originPath, 'utf8'), /^requested-local=[0-9a-f]{64}:fx-extra_1\.0_all;$/m);

    // override remove of a base package nothing else needs
    ok(await cli('override', 'remove', 'e2fsprogs'), 'override remove');
    d = await top();
    assert.ok(!dpkgQuery(d).has('e2fsprogs'));
    assert.match(readFileSync(d.originPath, 'utf8'), /^remove=e2fsprogs;$/m);

    // override replace: a newer local build of a base package
    const baseVer = dpkgQuery(d).get('debian-archive-keyring')!;
    const { buildDeb } = await import('../lib/archive');
    const repl = buildDeb(archive.dir, {
      name: 'debian-archive-keyring',
      version: `${baseVer}+local1`,
      files: { '/usr/share/fx-replaced': 'yes\n' },
    });
    ok(await cli('override', 'replace', repl), 'override replace');
    d = await top();
    assert.equal(dpkgQuery(d).get('debian-archive-keyring'), `${baseVer}+local1`);
    assert.match(readFileSync(d.originPath, 'utf8'), /^replace-local=[0-9a-f]{64}:debian-archive-keyring_/m);
    // status as rpm-ostree shows it: the layered commit's metadata, and the replacement as NAME BASE -> NEW.
    const st = await cli('status', '--json');
    ok(st, 'status --json');
    const dj = (
      JSON.parse(st.stdout) as { deployments: { checksum: string; 'layered-commit-meta'?: Record<string, unknown> }[] }
    ).deployments.find((x) => x.checksum === d.checksum)!;
    const lm = dj['layered-commit-meta'];
    assert.ok(lm, 'layered-commit-meta on a layered deployment');
    assert.equal(lm['aptostree.clientlayer'], 'true');
    assert.equal(lm['aptostree.base-checksum'], d.baseChecksum);
    assert.equal(lm['aptostree.packages'], undefined, 'the long package list is left out, as in base-commit-meta');
    const esc = (v: string): string => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const text = await cli('status');
    assert.match(
      text.stdout,
      new RegExp(`^\\s+LocalReplacedPackages: debian-archive-keyring ${esc(baseVer)} -> ${esc(`${baseVer}+local1`)}$`, 'm'),
      text.stdout,
    );
    fsck();

    ok(await cli('override', 'reset', 'e2fsprogs'), 'override reset');
    d = await top();
    assert.ok(dpkgQuery(d).has('e2fsprogs'));
    assert.equal(dpkgQuery(d).get('debian-archive-keyring'), `${baseVer}+local1`);

    const r = await cli('reset');
    ok(r, 'reset');
    d = await top();
    assert.equal(d.checksum, d.baseChecksum, 'reset deploys the plain base');
    const plain = JSON.parse((await cli('status', '--json')).stdout) as {
      deployments: { checksum: string; 'layered-commit-meta'?: unknown }[];
    };
    assert.equal(plain.deployments.find((x) => x.checksum === d.checksum)?.['layered-commit-meta'], undefined, 'none on a base deployment');
    assert.ok(!dpkgQuery(d).has('fx-app'));
    assert.match(readFileSync(d.originPath, 'utf8'), /^refspec=/m);
    const again = await cli('reset', '--unchanged-exit-77');
    assert.equal(again.code, 77);
    fsck();
  });

  it('reuses imported packages and the cache: --cache-only works with the server gone', async () => {
    ok(await cli('refresh-md'), 'refresh-md');
    server.resetStats();
    await server.close();
    const r = await cli('install', '--cache-only', 'fx-app');
    ok(r, 'install -C');
    assert.doesNotMatch(r.stdout, /Downloading|Importing/);
    assert.equal(dpkgQuery(await top()).get('fx-app'), '1.0');
    const r2 = await cli('install', '--cache-only', 'fx-slow');
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /not in the cache: fx-slow/);
    // The same archive through file: (the server is down meanwhile).
    const d = await top();
    setSources(d, archive.fileSource);
    ok(await cli('refresh-md'), 'refresh-md (file:)');
    const dry = await cli('install', '-n', '-C', 'fx-slow');
    ok(dry, 'dry run through file:');
    assert.match(dry.stdout, /install fx-slow 1\.0 all/);
    // A real install from file: (APT leaves such packages in place; they are copied in).
    ok(await cli('install', 'fx-extra'), 'install through file:');
    assert.equal(dpkgQuery(await top()).get('fx-extra'), '1.0');
    ok(await cli('uninstall', 'fx-extra'), 'uninstall');
    setSources(await top(), source);
    await server.restart();
  });

  it('SIGKILL while maintainer scripts run leaves the sysroot as it was; the next operation cleans up', async () => {
    const before1 = (await deployments()).map((d) => `${d.checksum}.${d.serial}`);
    const child = spawn(process.execPath, [CLI, '--sysroot', sys.path, 'install', 'fx-slow'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no dpkg phase: ${out}`)), 120000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('Running dpkg')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 1500)); // the postinst is sleeping now
    const exited = new Promise((r) => child.on('close', r));
    child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(
      (await deployments()).map((d) => `${d.checksum}.${d.serial}`),
      before1,
    );
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(sys.path), 'no mount left behind');
    const stray = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(sys.path);
        } catch {
          return false;
        }
      });
    assert.deepEqual(stray, [], 'no process of the killed operation is left');
    assert.ok(
      readdirSync(join(sys.repo, 'tmp')).some((n) => n.startsWith('apt-ostree-layer-')),
      'the work directory was left over',
    );
    fsck();
    ok(await cli('install', 'fx-extra'), 'the next operation');
    assert.deepEqual(
      readdirSync(join(sys.repo, 'tmp')).filter((n) => n.startsWith('apt-ostree')),
      [],
    );
    fsck();
  });

  it('installs a real Debian package from the mirror the base configures', async () => {
    const r = await cli('install', 'hello');
    ok(r, 'install hello');
    const d = await top();
    assert.match(dpkgQuery(d).get('hello') ?? '', /^2\./);
    const exe = sh('bwrap', ['--ro-bind', d.deployPath, '/', '--dev', '/dev', '--proc', '/proc', '--', '/usr/bin/hello']);
    assert.equal(exe.trim(), 'Hello, world!');
    fsck();
  });
});
