/**
 * Layered packages stay patched: a package layered from an APT archive
 * (over loopback HTTP) is upgraded when the archive publishes a newer
 * version, whether or not the base changed; `upgrade --check` reports it
 * apart from the base, status shows it in the cached update, and automatic
 * updates with the security scope take it when it comes from a security suite.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSysroot } from '../../src/engine/sysroot';
import { buildArchive, type FixtureArchive, type FixturePackage } from '../lib/archive';
import { removeTree } from '../lib/env';
import { runCliAsync } from '../lib/http-repo';
import { serveBase, sysrootAtV1, type Served } from './fixture';

let served: Served;
const archives: FixtureArchive[] = [];
const servers: { close(): Promise<void> }[] = [];
const env = (): NodeJS.ProcessEnv => ({ APT_OSTREE_CONFIG: join(served.dir, 'no-such-apt-ostreed.conf') });
const cli = (sysroot: string, ...args: string[]) => runCliAsync(['--sysroot', sysroot, ...args], { env: env() });

const pkg = (name: string, version: string, depends?: string): FixturePackage => ({
  name,
  version,
  ...(depends ? { depends } : {}),
  files: { [`/usr/share/${name}/version`]: `${name} ${version}\n` },
});

/** A sysroot at v1 whose deployment has `archive` as an APT source, with `name` installed from it. */
async function layeredSysroot(dirName: string, archive: FixtureArchive, name: string): Promise<string> {
  const sysroot = await sysrootAtV1(served, dirName);
  const d = (await loadSysroot(sysroot)).deployments[0]!;
  const list = join(d.deployPath, 'etc/apt/sources.list.d');
  mkdirSync(list, { recursive: true });
  const { server, source } = await archive.serve();
  servers.push(server);
  writeFileSync(join(list, 'fixtures.list'), `${source}\n`);
  const r = await cli(sysroot, 'install', name);
  assert.equal(r.code, 0, `install ${name}: ${r.stdout}\n${r.stderr}`);
  return sysroot;
}

async function top(sysroot: string): Promise<{ checksum: string; base: string; root: string }> {
  const d = (await loadSysroot(sysroot)).deployments[0]!;
  return { checksum: d.checksum, base: d.baseChecksum, root: d.deployPath };
}

/** Version of `name` in the dpkg status of a deployment. */
function dpkgVersion(root: string, name: string): string | undefined {
  const status = readFileSync(join(root, 'usr/share/dpkg/database/status'), 'utf8');
  const block = status.split('\n\n').find((b) => b.startsWith(`Package: ${name}\n`));
  return block ? /^Version: (.*)$/m.exec(block)?.[1] : undefined;
}

interface CachedUpdate {
  checksum: string;
  version: string | null;
  timestamp: number;
  'rpm-diff': { upgraded: { name: string; from: string; to: string }[]; added: unknown[]; removed: unknown[]; downgraded: unknown[] };
  layered: { name: string; from: string | null; to: string | null; security: boolean }[];
  'security-count': number;
  'security-fixes': string[];
}

async function cachedUpdate(sysroot: string): Promise<CachedUpdate | null> {
  const r = await cli(sysroot, 'status', '--json');
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { 'cached-update': CachedUpdate | null })['cached-update'];
}

before(async () => {
  served = await serveBase('upd-layered-patched');
});

after(async () => {
  for (const s of servers) await s.close();
  for (const a of archives) removeTree(a.dir);
  await served?.close();
});

test('upgrade re-resolves layered packages: --check reports foo 1.0 -> 2.0 apart from the base; upgrade deploys it; then no upgrade', async () => {
  const archive = buildArchive([pkg('fx-foo-lib', '1.0'), pkg('fx-foo', '1.0', 'fx-foo-lib (>= 1.0)')], 'upd-foo');
  archives.push(archive);
  const sysroot = await layeredSysroot('foo', archive, 'fx-foo');
  const start = await top(sysroot);
  assert.equal(dpkgVersion(start.root, 'fx-foo'), '1.0');

  archive.publish([pkg('fx-foo-lib', '2.0'), pkg('fx-foo', '2.0', 'fx-foo-lib (>= 2.0)')]);
  const check = await cli(sysroot, 'upgrade', '--check', '--unchanged-exit-77');
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /AvailableUpdate:\n\s+Version: 2\.0/, 'the base change');
  assert.match(check.stdout, /LayeredUpdates: 2 package\(s\)\n\s+fx-foo 1\.0 -> 2\.0\n\s+fx-foo-lib 1\.0 -> 2\.0/, check.stdout);
  assert.doesNotMatch(check.stdout, /security/);

  // status: the cached update of the last check, with the layered changes in rpm-ostree's package diff.
  const cached = await cachedUpdate(sysroot);
  assert.ok(cached, 'a cached update after --check');
  assert.equal(cached.version, '2.0');
  assert.equal(cached.checksum, served.v2);
  assert.equal(typeof cached.timestamp, 'number');
  assert.deepEqual(
    cached['rpm-diff'].upgraded.filter((u) => u.name.startsWith('fx-')).map((u) => `${u.name} ${u.from} ${u.to}`),
    ['fx-foo 1.0 2.0', 'fx-foo-lib 1.0 2.0'],
  );
  assert.ok(cached['rpm-diff'].added.length > 0, 'the base diff (hello, less) is there too');
  assert.ok(cached.layered.every((l) => !l.security));
  assert.equal(cached['security-count'], cached['security-fixes'].length, 'the security updates are those of the base');
  const text = (await cli(sysroot, 'status')).stdout;
  const n = cached['security-count'];
  assert.match(
    text,
    n > 0
      ? new RegExp(`^\\s+Security: ${n} package\\(s\\) from security archives`, 'm')
      : /^AvailableUpdate:\n(?:(?!\s+Security:).*\n)*Deployments:/m,
  );
  assert.match(text, /^\s+Layered: fx-foo 1\.0 -> 2\.0$/m);
  assert.equal((await top(sysroot)).checksum, start.checksum, '--check deploys nothing');

  const up = await cli(sysroot, 'upgrade');
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /fx-foo 1\.0 -> 2\.0/);
  const t = await top(sysroot);
  assert.equal(t.base, served.v2);
  assert.equal(dpkgVersion(t.root, 'fx-foo'), '2.0');
  assert.equal(dpkgVersion(t.root, 'fx-foo-lib'), '2.0');
  assert.equal(readFileSync(join(t.root, 'usr/share/fx-foo/version'), 'utf8'), 'fx-foo 2.0\n');
  assert.equal(await cachedUpdate(sysroot), null, 'the cached update is gone once deployed');

  const again = await cli(sysroot, 'upgrade', '--unchanged-exit-77');
  assert.equal(again.code, 77, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /No upgrade available\./);
  const check2 = await cli(sysroot, 'upgrade', '--check', '--unchanged-exit-77');
  assert.equal(check2.code, 77, check2.stdout);
  assert.equal((await top(sysroot)).checksum, t.checksum);

  // Same base, newer layered package: a new deployment on the same base.
  archive.publish([pkg('fx-foo', '2.1', 'fx-foo-lib (>= 2.0)')]);
  const cacheOnly = await cli(sysroot, 'upgrade', '-C', '--unchanged-exit-77');
  assert.equal(cacheOnly.code, 77, `-C uses the cached metadata only: ${cacheOnly.stdout}\n${cacheOnly.stderr}`);
  const preview = await cli(sysroot, 'upgrade', '--preview');
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, /Base: no new base\./);
  assert.match(preview.stdout, /fx-foo 2\.0 -> 2\.1/);
  // The metadata is cached now, the package is not: -C refuses to download it, and nothing is deployed.
  const noPkg = await cli(sysroot, 'upgrade', '-C');
  assert.equal(noPkg.code, 1, noPkg.stdout);
  assert.match(noPkg.stderr, /not in the cache: fx-foo 2\.1/);
  assert.equal((await top(sysroot)).checksum, t.checksum);
  const up2 = await cli(sysroot, 'upgrade');
  assert.equal(up2.code, 0, up2.stderr);
  const t2 = await top(sysroot);
  assert.equal(t2.base, served.v2, 'same base');
  assert.notEqual(t2.checksum, t.checksum);
  assert.equal(dpkgVersion(t2.root, 'fx-foo'), '2.1');

  // The security scope does not take an update from an ordinary archive.
  archive.publish([pkg('fx-foo', '2.2', 'fx-foo-lib (>= 2.0)')]);
  const auto = await cli(sysroot, 'automatic-update', '--mode', 'stage', '--scope', 'security');
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stdout, /not taken: it carries no security fixes/);
  assert.equal((await top(sysroot)).checksum, t2.checksum);
});

test('automatic updates, security scope: a layered package whose new version comes from a security suite is recorded by check and staged by stage', async () => {
  const archive = buildArchive([pkg('fx-sec', '1.0')], 'upd-sec', { suite: 'bookworm-security' });
  archives.push(archive);
  const sysroot = await layeredSysroot('sec', archive, 'fx-sec');
  // On the newest base, so that only the layered package has an update.
  const up = await cli(sysroot, 'upgrade');
  assert.equal(up.code, 0, up.stderr);
  const start = await top(sysroot);
  assert.equal(start.base, served.v2);
  archive.publish([pkg('fx-sec', '1.1')]);

  const check = await cli(sysroot, 'automatic-update', '--mode', 'check', '--scope', 'security');
  assert.equal(check.code, 0, check.stderr);
  const cached = await cachedUpdate(sysroot);
  assert.ok(cached, check.stdout);
  assert.deepEqual(cached.layered, [{ name: 'fx-sec', arch: 'all', from: '1.0', to: '1.1', security: true }]);
  assert.equal(cached['security-count'], 1);
  assert.equal(cached.checksum, served.v2, 'the update is on the current base');
  const text = (await cli(sysroot, 'status')).stdout;
  assert.match(text, /^\s+Security: 1 package\(s\) from security archives: fx-sec$/m);
  assert.match(text, /^\s+Layered: fx-sec 1\.0 -> 1\.1 \(security\)$/m);
  assert.equal((await top(sysroot)).checksum, start.checksum, 'check deploys nothing');

  const stage = await cli(sysroot, 'automatic-update', '--mode', 'stage', '--scope', 'security');
  assert.equal(stage.code, 0, stage.stderr);
  const t = await top(sysroot);
  assert.notEqual(t.checksum, start.checksum);
  assert.equal(t.base, served.v2);
  assert.equal(dpkgVersion(t.root, 'fx-sec'), '1.1');
  const st = JSON.parse((await cli(sysroot, 'status', '--json')).stdout) as {
    'automatic-updates': { 'last-run': { result: string } };
  };
  assert.equal(st['automatic-updates']['last-run'].result, 'staged');
});

test('a layered package rebuilt in the archive with the same version (new SHA256 in the index) is imported again and deployed', async () => {
  const archive = buildArchive([pkg('fx-rebuilt', '1.0')], 'upd-rebuilt');
  archives.push(archive);
  const sysroot = await layeredSysroot('rebuilt', archive, 'fx-rebuilt');
  assert.equal(readFileSync(join((await top(sysroot)).root, 'usr/share/fx-rebuilt/version'), 'utf8'), 'fx-rebuilt 1.0\n');
  const rebuilt = (content: string): FixturePackage => ({
    name: 'fx-rebuilt',
    version: '1.0',
    files: { '/usr/share/fx-rebuilt/version': content },
  });

  // With a new base: the layered package is resolved again, and the rebuilt file is used.
  archive.publish([rebuilt('fx-rebuilt 1.0 rebuild 1\n')]);
  const up = await cli(sysroot, 'upgrade');
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  let t = await top(sysroot);
  assert.equal(t.base, served.v2);
  assert.equal(readFileSync(join(t.root, 'usr/share/fx-rebuilt/version'), 'utf8'), 'fx-rebuilt 1.0 rebuild 1\n');

  // Same base: the rebuild alone is an update.
  archive.publish([rebuilt('fx-rebuilt 1.0 rebuild 2\n')]);
  const check = await cli(sysroot, 'upgrade', '--check', '--unchanged-exit-77');
  assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
  assert.match(check.stdout, /fx-rebuilt 1\.0 -> 1\.0/);
  const up2 = await cli(sysroot, 'upgrade', '--unchanged-exit-77');
  assert.equal(up2.code, 0, `${up2.stdout}\n${up2.stderr}`);
  t = await top(sysroot);
  assert.equal(t.base, served.v2);
  assert.equal(readFileSync(join(t.root, 'usr/share/fx-rebuilt/version'), 'utf8'), 'fx-rebuilt 1.0 rebuild 2\n');
  const again = await cli(sysroot, 'upgrade', '--unchanged-exit-77');
  assert.equal(again.code, 77, `nothing new once the rebuild is deployed: ${again.stdout}\n${again.stderr}`);
});
