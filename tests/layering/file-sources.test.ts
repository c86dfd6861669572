/**
 * Local archives where users keep them: file: sources under /var/tmp, /srv
 * and /home. In the tree, /srv and /home are symlinks into /var, which the
 * APT sandbox replaces by a tmpfs; the source directories are bound there,
 * read-only, so that resolution, installation and --cache-only work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxPathOf } from '../../src/engine/layering/apt';
import { loadSysroot, type Deployment } from '../../src/engine/sysroot';
import { buildArchive, type FixturePackage } from '../lib/archive';
import { removeTree } from '../lib/env';
import { runCliAsync } from '../lib/http-repo';
import { makeSysroot, type SysrootFixture } from '../lib/sysroot';

let sys: SysrootFixture;
const made: string[] = [];
const cli = (...args: string[]): ReturnType<typeof runCliAsync> => runCliAsync(['--sysroot', sys.path, ...args]);

async function top(): Promise<Deployment> {
  const d = (await loadSysroot(sys.path)).deployments[0];
  assert.ok(d, 'a deployment');
  return d;
}

const pkg = (name: string): FixturePackage => ({ name, version: '1.0', files: { [`/usr/share/${name}/here`]: `${name}\n` } });

describe('file: sources at /var/tmp, /srv, /home', { timeout: 20 * 60 * 1000 }, () => {
  before(async () => {
    sys = await makeSysroot({ prefix: 'file-sources' });
  });
  after(() => {
    for (const d of made) removeTree(d);
    sys?.cleanup();
  });

  it('maps a path through the tree symlinks into /var', async () => {
    const root = (await top()).deployPath;
    assert.ok(lstatSync(join(root, 'srv')).isSymbolicLink(), '/srv is a symlink in the tree');
    assert.equal(sandboxPathOf(root, '/srv/localrepo'), '/var/srv/localrepo');
    assert.equal(sandboxPathOf(root, '/home/u/repo'), '/var/home/u/repo');
    assert.equal(sandboxPathOf(root, '/var/tmp/lrepo'), '/var/tmp/lrepo');
    assert.equal(sandboxPathOf(root, '/usr/share/x'), '/usr/share/x');
  });

  for (const place of ['/var/tmp', '/srv', '/home']) {
    it(`a local archive under ${place}: resolve, install, install -C`, async () => {
      const tag = place.replace(/\W/g, '');
      const dir = join(place, `apt-ostree-lrepo-${process.pid}-${tag}`);
      removeTree(dir);
      made.push(dir);
      const a = `fx-loc-${tag}`;
      const b = `fx-loc-${tag}-b`;
      buildArchive([pkg(a), pkg(b)], 'unused', { dir });
      const d = await top();
      const list = join(d.deployPath, 'etc/apt/sources.list.d');
      mkdirSync(list, { recursive: true });
      writeFileSync(join(list, 'fixtures.list'), `deb [trusted=yes] file:${dir} ./\n`);

      const dry = await cli('install', '--dry-run', a);
      assert.equal(dry.code, 0, `resolve: ${dry.stdout}\n${dry.stderr}`);
      assert.match(dry.stdout, new RegExp(a));
      assert.equal((await top()).checksum, d.checksum, 'a dry run deploys nothing');

      const r = await cli('install', a);
      assert.equal(r.code, 0, `install: ${r.stdout}\n${r.stderr}`);
      const t = await top();
      assert.equal(readFileSync(join(t.deployPath, `usr/share/${a}/here`), 'utf8'), `${a}\n`);

      // No network needed for a local archive: --cache-only installs from it.
      const c = await cli('install', '-C', b);
      assert.equal(c.code, 0, `install -C: ${c.stdout}\n${c.stderr}`);
      const t2 = await top();
      assert.ok(existsSync(join(t2.deployPath, `usr/share/${b}/here`)));
      assert.ok(existsSync(join(t2.deployPath, `usr/share/${a}/here`)));
      // The next place starts from no layering.
      const u = await cli('uninstall', '--all');
      assert.equal(u.code, 0, u.stderr);
    });
  }
});
