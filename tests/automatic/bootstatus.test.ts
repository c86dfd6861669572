/**
 * apt-ostree bootstatus (apt-ostree-bootstatus.service): against a directory
 * sysroot marked booted (APT_OSTREE_TEST_BOOTED_DEPLOYMENT), as default and
 * as rollback; quiet and exit 0 when nothing is booted.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../lib/env';
import { miniSysroot, type MiniSysroot } from '../lib/mini-sysroot';

let s: MiniSysroot;
let first: string;
let second: string;

before(() => {
  s = miniSysroot('bootstatus');
  const c1 = s.commit('12.1');
  first = s.deploy(c1, '[origin]\nbaserefspec=debian:debian/12/x86_64/test\n\n[packages]\nrequested=htop;curl;\n');
  const c2 = s.commit('12.2');
  second = s.deploy(c2, '[origin]\nrefspec=debian:debian/12/x86_64/test\n');
});

after(() => s.cleanup());

const journalEnv = (booted?: string): NodeJS.ProcessEnv => ({
  JOURNAL_STREAM: '8:12345',
  ...(booted ? { APT_OSTREE_TEST_BOOTED_DEPLOYMENT: booted } : {}),
});

test('booted into the default deployment: notice with checksum, version, origin, layered packages', () => {
  const r = runCli(['--sysroot', s.path, 'bootstatus'], { env: journalEnv(second) });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(
    lines[0]!,
    new RegExp(`^<5>Booted deployment ${second.replace('.', '\\.')} \\(stateroot debian, version 12\\.2\\): the default deployment$`),
  );
  assert.ok(lines.includes('<6>Origin: debian:debian/12/x86_64/test'), r.stderr);
  assert.ok(lines.includes('<6>Layered packages: none'), r.stderr);
  assert.ok(
    lines.every((l) => /^<[3-7]>/.test(l)),
    'every line has a journal priority prefix',
  );
});

test('booted into the older deployment: a warning that says rollback, with its layered packages', () => {
  const r = runCli(['--sysroot', s.path, 'bootstatus'], { env: journalEnv(first) });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(
    lines[0]!,
    new RegExp(
      `^<4>Booted deployment ${first.replace('.', '\\.')} \\(stateroot debian, version 12\\.1\\): a ROLLBACK, not the default deployment$`,
    ),
  );
  assert.match(r.stderr, new RegExp(`<4>The default deployment is ${second.replace('.', '\\.')} \\(version 12\\.2\\)`));
  assert.ok(lines.includes('<6>Layered packages: htop curl'), r.stderr);
  const json = JSON.parse(runCli(['--sysroot', s.path, 'bootstatus', '--json'], { env: journalEnv(first) }).stdout) as {
    booted: boolean;
    deployment: string;
    isDefault: boolean;
  };
  assert.deepEqual([json.booted, json.deployment, json.isDefault], [true, first, false]);
});

test('without a journal, lines are plain text with level labels', () => {
  const r = runCli(['--sysroot', s.path, 'bootstatus'], { env: { APT_OSTREE_TEST_BOOTED_DEPLOYMENT: first, JOURNAL_STREAM: undefined } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: Booted deployment /);
});

test('a sysroot with no booted deployment: quiet, exit 0', () => {
  const r = runCli(['--sysroot', s.path, 'bootstatus'], { env: journalEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '');
});

test('an unknown checksum in the test marker marks nothing booted', () => {
  const r = runCli(['--sysroot', s.path, 'bootstatus'], { env: journalEnv(`${'0'.repeat(64)}.0`) });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
});

test('this machine (/ not booted with OSTree, no /run/ostree-booted): quiet, exit 0', async () => {
  // Read-only: bootstatus never writes; with no /run/ostree-booted it does not even load "/".
  const { existsSync } = await import('node:fs');
  if (existsSync('/run/ostree-booted')) return;
  const r = runCli(['--sysroot', '/', 'bootstatus'], { env: journalEnv() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});
