/**
 * Boot configuration and status semantics as rpm-ostree defines them, on a
 * small directory sysroot: kargs --append-if-missing compares whole
 * KEY=VALUE arguments, kargs --editor runs $EDITOR through the shell, and
 * status shows a base commit's ostree.endoflife.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { miniSysroot, type MiniSysroot } from '../lib/mini-sysroot';
import { runCli } from '../lib/env';

let m: MiniSysroot;
const EOL = 'This release is no longer supported; rebase to the next one';
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(['--sysroot', m.path, ...args], { env: { ...process.env, ...env } });

before(() => {
  m = miniSysroot('sysroot-semantics');
  const c = m.commit('1.0', { metadata: { 'ostree.endoflife': EOL } });
  m.deploy(c, '[origin]\nrefspec=debian/12/x86_64/test\n');
});

after(() => {
  m?.cleanup();
});

test("status shows the base commit's ostree.endoflife (JSON endoflife, text EndOfLife)", () => {
  const j = cli(['status', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const d = (JSON.parse(j.stdout) as { deployments: { endoflife?: string }[] }).deployments[0]!;
  assert.equal(d.endoflife, EOL);
  const t = cli(['status']);
  assert.match(t.stdout, new RegExp(`EndOfLife: ${EOL}`));
});

test('kargs --append-if-missing=KEY=VALUE adds the argument unless that exact KEY=VALUE is there', () => {
  assert.equal(cli(['kargs', '--append=root=/dev/vda']).code, 0);
  const r = cli(['kargs', '--append-if-missing=root=/dev/sda']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(cli(['kargs']).stdout, 'root=/dev/vda root=/dev/sda\n');
  const again = cli(['kargs', '--append-if-missing=root=/dev/sda', '--unchanged-exit-77']);
  assert.equal(again.code, 77, again.stdout + again.stderr);
  assert.equal(cli(['kargs']).stdout, 'root=/dev/vda root=/dev/sda\n');
});

test('kargs --editor runs $EDITOR through the shell, with its arguments and quotes', () => {
  const r = cli(['kargs', '--editor'], { EDITOR: "sed -i 's/$/ X=1/'", VISUAL: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(cli(['kargs']).stdout, 'root=/dev/vda root=/dev/sda X=1\n');
});
