/**
 * A local APT archive of small fixture packages, built inside the tests with
 * the real dpkg-deb and apt-ftparchive, served over loopback HTTP (a node
 * server in the test process, tests/lib/http-repo.ts) or read through file:.
 * A flat archive ("deb [trusted=yes] URI ./").
 */
import { chmodSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { serveDirectory, type RepoServer } from './http-repo';
import { sh, tmpdir } from './env';

export interface FixturePackage {
  name: string;
  version: string;
  arch?: string;
  depends?: string;
  preDepends?: string;
  conflicts?: string;
  /** path (absolute, in the package) -> content; mode 0755 for paths under bin/. */
  files?: Record<string, string | Buffer>;
  conffiles?: string[];
  preinst?: string;
  postinst?: string;
  prerm?: string;
  postrm?: string;
  /** Content of DEBIAN/triggers. */
  triggers?: string;
}

/** Build one .deb in `outDir`; returns its path. */
export function buildDeb(outDir: string, p: FixturePackage): string {
  const root = join(outDir, `src-${p.name}-${p.version}`);
  const deb = join(root, 'DEBIAN');
  mkdirSync(deb, { recursive: true });
  chmodSync(deb, 0o755);
  const arch = p.arch ?? 'all';
  const control = [
    `Package: ${p.name}`,
    `Version: ${p.version}`,
    `Architecture: ${arch}`,
    'Maintainer: apt-ostree tests <tests@localhost>',
    'Section: misc',
    'Priority: optional',
    ...(p.preDepends ? [`Pre-Depends: ${p.preDepends}`] : []),
    ...(p.depends ? [`Depends: ${p.depends}`] : []),
    ...(p.conflicts ? [`Conflicts: ${p.conflicts}`] : []),
    `Description: apt-ostree test fixture ${p.name}`,
    '',
  ].join('\n');
  writeFileSync(join(deb, 'control'), control);
  for (const [path, content] of Object.entries(p.files ?? {})) {
    const f = join(root, path);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, content, { mode: /\/s?bin\//.test(path) ? 0o755 : 0o644 });
  }
  if (p.conffiles?.length) writeFileSync(join(deb, 'conffiles'), `${p.conffiles.join('\n')}\n`);
  for (const s of ['preinst', 'postinst', 'prerm', 'postrm'] as const) {
    const body = p[s];
    if (body) writeFileSync(join(deb, s), `#!/bin/sh\nset -e\n${body}\n`, { mode: 0o755 });
  }
  if (p.triggers) writeFileSync(join(deb, 'triggers'), `${p.triggers}\n`);
  const out = join(outDir, `${p.name}_${p.version}_${arch}.deb`);
  sh('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', root, out]);
  sh('rm', ['-rf', root]);
  return out;
}

export interface FixtureArchive {
  dir: string;
  /** Package name -> .deb path (inside the archive). */
  debs: Map<string, string>;
  /** The sources line for file: access. */
  fileSource: string;
  /** Start the HTTP server; returns it with its sources line. */
  serve(): Promise<{ server: RepoServer; source: string }>;
  /** Add packages (new versions too) and write the indexes again: the archive publishes them. */
  publish(pkgs: FixturePackage[]): void;
}

export interface ArchiveOptions {
  /** Suite of the Release file (e.g. "bookworm-security", which APT then reports for its packages). */
  suite?: string;
  /** Directory to build in (default: a fresh scratch directory). */
  dir?: string;
}

/** Build a flat archive with `pkgs` (Packages, Release) in a fresh directory. */
export function buildArchive(pkgs: FixturePackage[], prefix = 'apt-archive', opts: ArchiveOptions = {}): FixtureArchive {
  const dir = opts.dir ?? tmpdir(prefix);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // _apt must read it through file:
  const debs = new Map<string, string>();
  const index = (): void => {
    writeFileSync(join(dir, 'Packages'), sh('apt-ftparchive', ['packages', '.'], { cwd: dir }));
    const suite = opts.suite ? ['-o', `APT::FTPArchive::Release::Suite=${opts.suite}`] : [];
    writeFileSync(
      join(dir, 'Release'),
      sh('apt-ftparchive', ['-o', 'APT::FTPArchive::Release::Origin=apt-ostree-tests', ...suite, 'release', '.'], { cwd: dir }),
    );
  };
  for (const p of pkgs) debs.set(p.name, buildDeb(dir, p));
  index();
  return {
    dir,
    debs,
    publish(more) {
      for (const p of more) debs.set(p.name, buildDeb(dir, p));
      index();
    },
    fileSource: `deb [trusted=yes] file:${dir} ./`,
    async serve() {
      const server = await serveDirectory(dir);
      return { server, source: `deb [trusted=yes] ${server.url}/ ./` };
    },
  };
}

/** The fixture set of the layering tests. */
export function layeringFixtures(): FixturePackage[] {
  return [
    { name: 'fx-lib', version: '1.0', files: { '/usr/share/fx-lib/lib.txt': 'fx-lib 1.0\n' } },
    { name: 'fx-app', version: '1.0', depends: 'fx-lib (>= 1.0)', files: { '/usr/bin/fx-app': '#!/bin/sh\necho fx-app 1.0\n' } },
    {
      name: 'fx-conf',
      version: '1.0',
      files: { '/etc/fx-conf/fx.conf': 'setting = packaged\n' },
      conffiles: ['/etc/fx-conf/fx.conf'],
    },
    {
      name: 'fx-user',
      version: '1.0',
      depends: 'passwd',
      postinst:
        'if [ "$1" = configure ] && ! getent passwd fxuser >/dev/null; then useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fxuser; fi',
    },
    {
      name: 'fx-alt',
      version: '1.0',
      files: { '/usr/bin/fx-alt-editor': '#!/bin/sh\necho fx-alt-editor\n' },
      postinst: 'update-alternatives --install /usr/bin/fx-editor fx-editor /usr/bin/fx-alt-editor 50',
      prerm: 'if [ "$1" = remove ]; then update-alternatives --remove fx-editor /usr/bin/fx-alt-editor; fi',
    },
    {
      // Activates the ldconfig trigger that libc-bin (a package of the base) is interested in:
      // libc-bin's postinst runs ldconfig, whose cache then lists this library.
      name: 'fx-trig-src',
      version: '1.0',
      triggers: 'activate-noawait ldconfig',
      files: {
        '/usr/lib/fx-trig/libmd.so.0': readFileSync(realpathSync('/usr/lib/x86_64-linux-gnu/libmd.so.0')),
        '/etc/ld.so.conf.d/fx-trig.conf': '/usr/lib/fx-trig\n',
      },
    },
    { name: 'fx-var', version: '1.0', files: { '/var/lib/fx-var/data.txt': 'state\n', '/var/lib/fx-var/sub/.keep': '' } },
    {
      name: 'fx-divert',
      version: '1.0',
      files: { '/usr/bin/savelog': '#!/bin/sh\necho diverted savelog\n' },
      preinst:
        'if [ "$1" = install ]; then dpkg-divert --package fx-divert --add --rename --divert /usr/bin/savelog.distrib /usr/bin/savelog; fi',
      postrm:
        'if [ "$1" = remove ]; then dpkg-divert --package fx-divert --remove --rename --divert /usr/bin/savelog.distrib /usr/bin/savelog; fi',
    },
    {
      name: 'fx-probe',
      version: '1.0',
      postinst: [
        'mkdir -p /usr/share/fx-probe',
        '{',
        '  [ -e /run/ostree-booted ] && echo ostree-booted=yes || echo ostree-booted=no',
        '  echo "hostname=$(cat /proc/sys/kernel/hostname)"',
        '  echo "pid=$$"',
        '  echo "netdevs=$(tail -n +3 /proc/net/dev | wc -l)"',
        '  /usr/sbin/policy-rc.d x start >/dev/null 2>&1 && echo policy=0 || echo "policy=$?"',
        '  [ -e /work ] && echo host-work=visible || echo host-work=hidden',
        '} > /usr/share/fx-probe/report',
      ].join('\n'),
    },
    { name: 'fx-fail', version: '1.0', postinst: 'echo "fx-fail postinst: deliberate failure for the test" >&2\nexit 1' },
    { name: 'fx-conflict', version: '1.0', conflicts: 'adduser' },
    { name: 'fx-slow', version: '1.0', postinst: 'sleep 60' },
    { name: 'fx-extra', version: '1.0', files: { '/usr/share/fx-extra/x': 'x\n' } },
  ];
}
