/**
 * A changed compose on top of the base: a local .deb (built here with
 * dpkg-deb) in the tree, a date-based version, a GPG-signed commit and
 * summary that a remote requiring signatures accepts, and a static delta
 * from the previous commit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { baseRepo, baseTreefile, type BaseRepo } from '../lib/base';
import { removeTree, runCli, sh, tmpdir } from '../lib/env';
import { readCommitMetadataString, readPackages, revParse } from '../../src/engine/ostree/repo';
import { META_VERSION } from '../../src/engine/ostree/metadata';

let base: BaseRepo;
let scratch: string;
let gnupg: string;
let keyId: string;
let repo: string;
let head: string;

function buildFixtureDeb(dir: string): string {
  const root = join(dir, 'pkgroot');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'usr/share/aot-local-fixture'), { recursive: true });
  writeFileSync(join(root, 'usr/share/aot-local-fixture/hello.txt'), 'from a local .deb\n');
  writeFileSync(
    join(root, 'DEBIAN/control'),
    'Package: aot-local-fixture\nVersion: 1.0\nArchitecture: all\nMaintainer: apt-ostree tests <tests@localhost>\nDescription: apt-ostree local package fixture\n',
  );
  const deb = join(dir, 'aot-local-fixture_1.0_all.deb');
  sh('dpkg-deb', ['--root-owner-group', '--build', root, deb]);
  return deb;
}

before(async () => {
  base = await baseRepo('v1');
  scratch = tmpdir('compose-sign');
  gnupg = join(scratch, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  sh('gpg', [
    '--homedir',
    gnupg,
    '--batch',
    '--passphrase',
    '',
    '--quick-gen-key',
    'apt-ostree test <test@localhost>',
    'rsa2048',
    'sign',
    'never',
  ]);
  const cols = sh('gpg', ['--homedir', gnupg, '--batch', '--with-colons', '--list-secret-keys']);
  keyId = /^fpr:+([0-9A-F]{40}):/m.exec(cols)?.[1] ?? '';
  assert.ok(keyId !== '', 'a GPG key');
  writeFileSync(join(scratch, 'pub.asc'), sh('gpg', ['--homedir', gnupg, '--batch', '--armor', '--export', keyId]));

  repo = join(scratch, 'repo');
  sh('ostree', ['init', `--repo=${repo}`, '--mode=archive']);
  sh('ostree', ['pull-local', `--repo=${repo}`, base.repo, base.ref]);
  const deb = buildFixtureDeb(scratch);
  // v1's treefile with a local package and no version: a changed compose.
  const tf = join(scratch, 'tree.yaml');
  writeFileSync(tf, `${baseTreefile('v1').replace(/^version: .*\n/m, '')}local-packages: [${deb}]\n`);
  const r = runCli(['compose', 'tree', tf, '--repo', repo, '--gpg-sign', keyId, '--gpg-homedir', gnupg, '--static-delta']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /Signing|Generating a static delta/);
  head = sh('ostree', ['rev-parse', `--repo=${repo}`, base.ref]).trim();
});

after(() => {
  spawnSync('gpgconf', ['--homedir', gnupg, '--kill', 'all']);
  removeTree(scratch);
});

test('the local .deb is installed in the tree', async () => {
  assert.notEqual(head, base.checksum);
  assert.equal(await revParse(repo, `${head}^`), base.checksum, 'on top of the previous commit');
  assert.equal(sh('ostree', ['cat', `--repo=${repo}`, head, '/usr/share/aot-local-fixture/hello.txt']), 'from a local .deb\n');
  const pkgs = await readPackages(repo, head);
  assert.deepEqual(
    pkgs.find((p) => p.name === 'aot-local-fixture'),
    { name: 'aot-local-fixture', version: '1.0', arch: 'all' },
  );
});

test('no version in the treefile: date-based YYYYMMDD.N', async () => {
  const v = (await readCommitMetadataString(repo, head, META_VERSION)) ?? '';
  const d = new Date();
  const day = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  assert.match(v, new RegExp(`^${day}\\.\\d+$`));
});

test('a static delta from the previous commit', () => {
  const deltas = sh('ostree', ['static-delta', 'list', `--repo=${repo}`]);
  assert.ok(deltas.split('\n').includes(`${base.checksum}-${head}`), deltas);
});

test('signed commit and summary: a remote that requires signatures accepts them', () => {
  assert.ok(existsSync(join(repo, 'summary.sig')), 'signed summary');
  const client = join(scratch, 'client');
  sh('ostree', ['init', `--repo=${client}`, '--mode=bare-user']);
  sh('ostree', [
    'remote',
    'add',
    `--repo=${client}`,
    `--gpg-import=${join(scratch, 'pub.asc')}`,
    '--set=gpg-verify-summary=true',
    'origin',
    `file://${repo}`,
    base.ref,
  ]);
  sh('ostree', ['pull', `--repo=${client}`, '--commit-metadata-only', 'origin', base.ref]);
  assert.equal(sh('ostree', ['rev-parse', `--repo=${client}`, `origin:${base.ref}`]).trim(), head);
  // without the key, the same pull is refused
  const other = join(scratch, 'client2');
  sh('ostree', ['init', `--repo=${other}`, '--mode=bare-user']);
  sh('ostree', ['remote', 'add', `--repo=${other}`, '--set=gpg-verify=true', 'origin', `file://${repo}`, base.ref]);
  const r = spawnSync('ostree', ['pull', `--repo=${other}`, '--commit-metadata-only', 'origin', base.ref], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /GPG|signature|public key/i);
});
