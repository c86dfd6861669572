/**
 * The five units of automatic updates, boot status and counting: installed by scripts/install-daemon.sh into a
 * destination directory, accepted by `systemd-analyze verify` there, and
 * carrying the settings their job depends on (timers, hardening, the
 * unprivileged countme user).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KeyFile } from '../../src/engine/keyfile';
import { ROOT, removeTree, tmpdir } from '../lib/env';

const UNITS = [
  'apt-ostreed-automatic.service',
  'apt-ostreed-automatic.timer',
  'apt-ostree-bootstatus.service',
  'apt-ostree-countme.service',
  'apt-ostree-countme.timer',
];
let dest: string;
const unitPath = new Map<string, string>();

before(() => {
  dest = tmpdir('units');
  const r = spawnSync('sh', [join(ROOT, 'scripts', 'install-daemon.sh')], {
    encoding: 'utf8',
    env: { ...process.env, DESTDIR: dest, APT_OSTREE_NO_START: '1' },
  });
  assert.equal(r.status, 0, `install-daemon.sh failed: ${r.stderr}`);
  for (const u of UNITS) {
    for (const dir of ['usr/lib/systemd/system', 'lib/systemd/system', 'etc/systemd/system']) {
      if (existsSync(join(dest, dir, u))) unitPath.set(u, `/${dir}/${u}`);
    }
  }
  // systemd-analyze verify --root needs the standard targets (timers.target, ...) inside the root.
  cpSync('/usr/lib/systemd/system', join(dest, 'usr/lib/systemd/system'), { recursive: true, force: false, errorOnExist: false });
});

after(() => removeTree(dest));

const unit = (u: string): KeyFile => KeyFile.parse(readFileSync(join(dest, unitPath.get(u)!), 'utf8'), u);

function verify(paths: string[]): { code: number; out: string } {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${dest}`, ...paths], { encoding: 'utf8' });
  return { code: r.status ?? 128, out: `${r.stdout}${r.stderr}` };
}

test('install-daemon.sh installs all five units', () => {
  assert.deepEqual(
    UNITS.filter((u) => !unitPath.has(u)),
    [],
  );
});

test('systemd-analyze verify accepts them (with their ExecStart binaries installed)', () => {
  const r = verify(UNITS.map((u) => join(dest, unitPath.get(u)!)));
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out.trim(), '', r.out);
  for (const u of UNITS.filter((x) => x.endsWith('.service'))) {
    const exec = unit(u).getString('Service', 'ExecStart')!.split(/\s+/)[0]!;
    assert.ok(existsSync(join(dest, exec)), `${u}: ${exec} is installed`);
  }
});

test('verify is not a rubber stamp: a broken copy is refused', () => {
  mkdirSync(join(dest, 'etc/systemd/system'), { recursive: true });
  const bad = join(dest, 'etc/systemd/system/apt-ostree-broken.service');
  writeFileSync(
    bad,
    readFileSync(join(dest, unitPath.get('apt-ostree-countme.service')!), 'utf8').replace(
      'ExecStart=/usr/bin/apt-ostree',
      'ExecStart=/usr/bin/apt-ostree-missing',
    ),
  );
  const r = verify([bad]);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /apt-ostree-missing/);
  removeTree(bad);
});

test('timers: automatic daily, countme weekly; both randomized and persistent', () => {
  const a = unit('apt-ostreed-automatic.timer');
  assert.equal(a.getString('Timer', 'OnCalendar'), 'daily');
  assert.equal(a.getString('Timer', 'Persistent'), 'true');
  assert.ok(a.getString('Timer', 'RandomizedDelaySec'));
  assert.equal(a.getString('Install', 'WantedBy'), 'timers.target');
  const c = unit('apt-ostree-countme.timer');
  assert.equal(c.getString('Timer', 'OnCalendar'), 'weekly');
  assert.ok(c.getString('Timer', 'RandomizedDelaySec'));
  assert.equal(c.getString('Install', 'WantedBy'), 'timers.target');
});

test('services are hardened; countme runs as a dynamic user with its state under /var/lib/apt-ostree', () => {
  for (const u of UNITS.filter((x) => x.endsWith('.service'))) {
    const k = unit(u);
    for (const [key, value] of [
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['NoNewPrivileges', 'yes'],
    ]) {
      assert.equal(k.getString('Service', key!), value, `${u}: ${key}`);
    }
    assert.equal(k.getString('Unit', 'ConditionPathExists'), '/run/ostree-booted', `${u} only on an OSTree system`);
  }
  const c = unit('apt-ostree-countme.service');
  assert.equal(c.getString('Service', 'DynamicUser'), 'yes');
  assert.equal(c.getString('Service', 'StateDirectory'), 'apt-ostree/countme');
  assert.equal(c.getString('Service', 'ProtectSystem'), 'strict');
  assert.equal(c.getString('Service', 'ExecStart'), '/usr/bin/apt-ostree countme');
  const b = unit('apt-ostree-bootstatus.service');
  assert.equal(b.getString('Service', 'Type'), 'oneshot');
  assert.equal(b.getString('Service', 'ProtectSystem'), 'strict');
  assert.equal(b.getString('Service', 'PrivateNetwork'), 'yes');
  const s = unit('apt-ostreed-automatic.service');
  assert.equal(s.getString('Service', 'ExecStart'), '/usr/bin/apt-ostree automatic-update --trigger');
  assert.ok(s.getString('Service', 'RuntimeMaxSec'), 'a run is bounded in time');
});
