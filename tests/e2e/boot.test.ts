/**
 * End to end: apt-ostree on a booted Debian, under QEMU.
 *
 * The system disk is made by the product (`compose tree` of the bootable
 * treefile with apt-ostree's own .deb, then `compose image`), see
 * ./image.ts. Every boot takes the kernel, initramfs and options of the
 * image's default BLS entry, as a bootloader would. Inside the guest the test
 * uses the real client (/usr/bin/apt-ostree), which reaches apt-ostreed by
 * D-Bus activation under systemd, authorized by polkit. Packages and the
 * newer commit come from a second disk (no network in the guest).
 *
 *   boot 1  status marks the booted deployment; bootstatus logged the boot;
 *           an unprivileged user is refused; /etc edit; install  -> staged
 *   boot 2  the package is there, the new deployment booted, /etc edit kept;
 *           rollback
 *   boot 3  the first deployment booted, the package gone; kargs --append
 *   boot 4  /proc/cmdline has it; install again
 *   boot 5  upgrade (from the repository on the second disk)
 *   boot 6  the new base is booted, the layered package still there
 *
 * The serial console of every boot is kept in .test-artifacts/e2e-*.
 * APT_OSTREE_E2E_ACCEL=kvm|tcg forces the accelerator (default: KVM when it
 * runs a guest here, else TCG).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, sh, tmpdir } from '../lib/env';
import { bootFilesFromImage, chooseAccel, tailFile, Vm, type Accel } from '../lib/qemu';
import { dataDisk, e2eImages, FIXTURE_PKG, GUEST_DATA, UPGRADE_MARKER, type E2eImages } from './image';

const BOOT_TIMEOUT = 360_000;
const OP_TIMEOUT = 600_000;

interface DeploymentJson {
  checksum: string;
  'base-checksum': string;
  booted: boolean;
  staged: boolean;
  packages: string[];
  'requested-packages': string[];
  version?: string;
}

let images: E2eImages;
let runDir: string;
let artifacts: string;
let serialLog: string;
let systemImg: string;
let dataImg: string;
let accel: Accel;
let vm: Vm | undefined;
let boots = 0;
/** Set when a step of the boot chain failed: later steps depend on it. */
let chainBroken: string | undefined;

function log(msg: string): void {
  process.stderr.write(`# e2e: ${msg}\n`);
}

async function boot(): Promise<Vm> {
  boots += 1;
  const files = bootFilesFromImage(systemImg, join(runDir, `boot-${boots}`));
  if (boots === 1) {
    accel = await chooseAccel(files, runDir);
    log(`accelerator: ${accel}`);
  }
  const t0 = Date.now();
  vm = Vm.start({ disks: [{ path: systemImg }, { path: dataImg, readonly: true }], boot: files, workdir: runDir, serialLog, accel });
  await vm.waitForAgent(BOOT_TIMEOUT);
  log(`boot ${boots}: agent up after ${Math.round((Date.now() - t0) / 1000)} s (${files.options})`);
  await vm.must(`mkdir -p ${GUEST_DATA} && { mountpoint -q ${GUEST_DATA} || mount -o ro LABEL=E2EDATA ${GUEST_DATA}; }`);
  return vm;
}

async function reboot(): Promise<Vm> {
  const t0 = Date.now();
  if (vm) await vm.shutdown();
  log(`shutdown ${boots}: ${Math.round((Date.now() - t0) / 1000)} s`);
  return boot();
}

function guest(): Vm {
  if (!vm || !vm.running) throw new Error(`the guest is not running${chainBroken ? ` (an earlier step failed: ${chainBroken})` : ''}`);
  return vm;
}

async function deployments(): Promise<DeploymentJson[]> {
  const out = await guest().must('apt-ostree status --json');
  const j = JSON.parse(out.slice(out.indexOf('{'))) as { deployments: DeploymentJson[] };
  return j.deployments;
}

async function booted(): Promise<DeploymentJson> {
  const b = (await deployments()).find((d) => d.booted);
  assert.ok(b, 'status --json marks a booted deployment');
  return b;
}

/** A step of the boot chain: skipped (with the reason) after a failed one. */
function step(name: string, fn: () => Promise<void>): void {
  it(name, { timeout: 2 * OP_TIMEOUT }, async (t) => {
    if (chainBroken) {
      t.skip(`depends on an earlier step that failed: ${chainBroken}`);
      return;
    }
    try {
      await fn();
    } catch (e) {
      chainBroken = name;
      throw e;
    }
  });
}

describe('apt-ostree on a booted Debian under QEMU', { timeout: 40 * 60_000 }, () => {
  before(async () => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    artifacts = join(ROOT, '.test-artifacts', `e2e-${stamp}`);
    mkdirSync(artifacts, { recursive: true });
    serialLog = join(artifacts, 'serial.log');
    const t0 = Date.now();
    images = await e2eImages();
    log(`images ${images.built ? 'built' : 'cached'} in ${Math.round((Date.now() - t0) / 1000)} s: ${images.dir}`);
    runDir = tmpdir('e2e-run');
    systemImg = join(runDir, 'system.img');
    sh('cp', ['--sparse=always', images.baseImage, systemImg]);
    dataImg = dataDisk(images, runDir);
  });

  after(async () => {
    if (vm) await vm.kill();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    if (serialLog) log(`serial console: ${serialLog}`);
  });

  step('boots the image to its agent', async () => {
    await boot();
    const cmdline = await guest().must('cat /proc/cmdline');
    assert.match(cmdline, /ostree=\/ostree\/boot\.\d\/debian\//);
    await guest().must('test -e /run/ostree-booted');
    // The guest's APT sources: only the archive on the data disk (no network).
    await guest().must(
      `rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; echo 'deb [trusted=yes] copy:${GUEST_DATA}/archive ./' > /etc/apt/sources.list.d/e2e.list`,
    );
    await guest().must('id e2euser >/dev/null 2>&1 || useradd --shell /bin/sh e2euser');
  });

  step('status marks the booted deployment', async () => {
    const text = await guest().must('apt-ostree status');
    assert.match(text, /^● /m, `status marks the booted deployment:\n${text}`);
    const b = await booted();
    assert.equal(b.checksum, images.c1);
  });

  it('the bootstatus unit logged the boot', async () => {
    const v = guest();
    const j = await v.must('journalctl -b --no-pager -o cat -u apt-ostree-bootstatus.service');
    assert.match(j, /Booted deployment/, `journal of apt-ostree-bootstatus:\n${j}`);
    assert.ok(j.includes(images.c1.slice(0, 10)), `the journal names the booted commit ${images.c1}:\n${j}`);
  });

  it('an unprivileged user is refused by polkit', async () => {
    const v = guest();
    const r = await v.run(`runuser -u e2euser -- apt-ostree install ${FIXTURE_PKG}`, OP_TIMEOUT);
    assert.notEqual(r.code, 0, `an unprivileged install must fail:\n${r.output}`);
    assert.match(r.output, /not authori[sz]ed|denied|polkit|authentication/i, r.output);
    const ds = await deployments();
    assert.ok(!ds.some((d) => d.staged), 'nothing was staged');
    const status = await v.run('runuser -u e2euser -- apt-ostree status', OP_TIMEOUT);
    assert.equal(status.code, 0, `an unprivileged user may read the status:\n${status.output}`);
  });

  step('install stages a deployment; after a reboot it is booted with the package and the /etc edit', async () => {
    let v = guest();
    await v.must('echo "edited before the reboot" > /etc/e2e-edit');
    const out = await v.must(`apt-ostree install ${FIXTURE_PKG}`, OP_TIMEOUT);
    assert.doesNotMatch(out, /running in-process/, `the client went through the daemon:\n${out}`);
    const started = await v.must('systemctl show -p ExecMainStartTimestampMonotonic --value apt-ostreed.service');
    assert.notEqual(started.trim(), '0', 'apt-ostreed.service was started (D-Bus activation under systemd)');
    const ds = await deployments();
    const staged = ds.find((d) => d.staged);
    assert.ok(staged, `install made a staged deployment:\n${out}\n${JSON.stringify(ds, null, 1)}`);
    assert.ok(staged['requested-packages'].includes(FIXTURE_PKG));
    v = await reboot();
    assert.equal((await v.must('e2e-hello')).trim(), 'hello from the e2e fixture');
    const b = await booted();
    assert.notEqual(b.checksum, images.c1, 'the layered deployment is booted');
    assert.equal(b['base-checksum'], images.c1);
    assert.ok(b.packages.includes(FIXTURE_PKG), JSON.stringify(b));
    assert.equal((await v.must('cat /etc/e2e-edit')).trim(), 'edited before the reboot');
  });

  step('rollback, reboot: the previous deployment is booted and the package is gone', async () => {
    await guest().must('apt-ostree rollback', OP_TIMEOUT);
    const v = await reboot();
    const b = await booted();
    assert.equal(b.checksum, images.c1);
    const r = await v.run('command -v e2e-hello');
    assert.notEqual(r.code, 0, 'e2e-hello is gone');
  });

  step('kargs --append, reboot: /proc/cmdline has it', async () => {
    await guest().must('apt-ostree kargs --append=e2e.karg=foo', OP_TIMEOUT);
    const v = await reboot();
    const cmdline = await v.must('cat /proc/cmdline');
    assert.match(cmdline, /(^| )e2e\.karg=foo( |$)/m, cmdline);
  });

  step('upgrade from the repository on the second disk, reboot: the layered package is still there', async () => {
    let v = guest();
    await v.must(`apt-ostree install ${FIXTURE_PKG}`, OP_TIMEOUT);
    v = await reboot();
    await v.must('e2e-hello');
    await v.must('apt-ostree upgrade', OP_TIMEOUT);
    v = await reboot();
    const b = await booted();
    assert.equal(b['base-checksum'], images.c2, `the upgraded base ${images.c2} is booted: ${JSON.stringify(b)}`);
    assert.equal((await v.must(`cat ${UPGRADE_MARKER}`)).trim(), images.c2Version);
    assert.equal((await v.must('e2e-hello')).trim(), 'hello from the e2e fixture');
    assert.match(await v.must('cat /proc/cmdline'), /(^| )e2e\.karg=foo( |$)/m, 'kernel arguments are kept across the upgrade');
  });

  it('powers off cleanly', async () => {
    if (!vm || !vm.running) return;
    await vm.shutdown(240_000, 'poweroff');
    log(`last lines of the serial console:\n${tailFile(serialLog, 5)}`);
  });

  it('a boot that fails fails with the last lines of its serial console', async () => {
    // The image's kernel without its initramfs cannot mount a virtio root: it panics, and QEMU exits.
    const files = bootFilesFromImage(systemImg, join(runDir, 'boot-fail'));
    const failLog = join(artifacts, 'serial-failing-boot.log');
    const failing = Vm.start({
      disks: [{ path: systemImg, readonly: true }],
      boot: { kernel: files.kernel, options: 'console=ttyS0 panic=-1 root=/dev/nonexistent' },
      workdir: runDir,
      serialLog: failLog,
      accel: accel ?? 'tcg',
    });
    try {
      await assert.rejects(failing.waitForAgent(180_000), (e: Error) => {
        assert.match(e.message, /went down|QEMU exited/);
        assert.match(e.message, /last lines of the serial console/);
        assert.match(e.message, /Kernel panic|VFS: Unable to mount root/);
        return true;
      });
    } finally {
      await failing.kill();
    }
  });
});
