/**
 * End to end: apt-ostree on a booted Debian, under QEMU, booted through UEFI
 * firmware, on Debian 12 (bookworm) and Debian 13 (trixie).
 *
 * The system disk is made by the product (`compose tree` of the suite's
 * bootable treefile with apt-ostree's own .deb, then `compose image`), see
 * ./image.ts. The machine boots it as a PC would: OVMF runs GRUB from the
 * disk's EFI system partition, and GRUB boots the default entry of the menu
 * OSTree keeps in /boot; nothing chooses an entry from outside the guest.
 * Inside the guest the test uses the real client (/usr/bin/apt-ostree), which
 * reaches apt-ostreed by D-Bus activation under systemd, authorized by
 * polkit. Packages and the newer commit come from a second disk (no network
 * in the guest). The system disk is made 1 GiB larger than the image: the
 * first boot grows the root file system into it.
 *
 *   boot 1  firmware boot; the root file system grew; GRUB's menu lists the
 *           deployment; status marks the booted deployment; bootstatus
 *           logged the boot; an unprivileged user is refused; /etc edit;
 *           install  -> staged
 *   boot 2  the package is there, the new deployment booted, /etc edit kept;
 *           GRUB's menu lists both deployments, the booted one first;
 *           rollback: the menu's default is the previous deployment
 *   boot 3  the first deployment booted, the package gone; kargs --append
 *   boot 4  /proc/cmdline has it; install again
 *   boot 5  upgrade (from the repository on the second disk)
 *   boot 6  the new base is booted, the layered package still there
 *
 * That is bookworm's chain. trixie runs the key scenarios in 4 boots:
 * boots 1 and 2 as above, then rollback and kargs --append; boot 3: the first
 * base booted (the menu's default, nothing chosen), without the package,
 * with the argument; upgrade; boot 4: the new base, the argument kept.
 *
 * APT_OSTREE_E2E_SUITES=bookworm,trixie picks the suites (default: both).
 * The serial console of every boot is kept in .test-artifacts/e2e-*.
 * APT_OSTREE_E2E_ACCEL=kvm|tcg forces the accelerator (default: KVM when it
 * runs a guest here, else TCG).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, sh, tmpdir } from '../lib/env';
import { bootFilesFromImage, chooseAccel, diskPartitions, ovmfFirmware, tailFile, Vm, type Accel, type Firmware } from '../lib/qemu';
import {
  liveInstallApplyLive,
  liveReplacementRefused,
  liveResetRemovesAddition,
  liveStatus,
  liveUsrOverlayGoneAfterReboot,
  liveUsrOverlayRefusedWhileTransient,
  liveUsrOverlayWritable,
} from './live-steps';
import { dataDisk, e2eImages, E2E_SUITES, FIXTURE_PKG, GUEST_DATA, UPGRADE_MARKER, type E2eImages, type E2eSuite } from './image';

const BOOT_TIMEOUT = 600_000;
const OP_TIMEOUT = 600_000;
/** The system disk is this much larger than the image: the first boot grows root into it. */
const GROW_BY = 1024 ** 3;

interface DeploymentJson {
  checksum: string;
  serial: number;
  /** Only with layered packages or overrides (rpm-ostree's shape); the base is the checksum otherwise. */
  'base-checksum'?: string;
  booted: boolean;
  staged: boolean;
  packages: string[];
  'requested-packages': string[];
  version?: string;
}

function suitesToRun(): E2eSuite[] {
  const env = process.env.APT_OSTREE_E2E_SUITES;
  if (!env) return [...E2E_SUITES];
  const want = env.split(/[,\s]+/).filter((s) => s !== '');
  for (const s of want) if (!E2E_SUITES.includes(s as E2eSuite)) throw new Error(`APT_OSTREE_E2E_SUITES: unknown suite ${s}`);
  return want as E2eSuite[];
}

function log(msg: string): void {
  process.stderr.write(`# e2e: ${msg}\n`);
}

/**
 * The deployments GRUB's menu boots, in menu order (the first is the
 * default), as deployment directory names CHECKSUM.SERIAL: the ostree=
 * argument of each entry, resolved in the guest.
 */
const MENU_DEPLOYMENTS =
  `awk '$1 ~ /^linux(16|efi)?$/ { for (i = 2; i <= NF; i++) if ($i ~ /^ostree=/) print substr($i, 8) }' /boot/grub/grub.cfg` +
  ` | while read -r p; do basename "$(readlink -f "/sysroot$p")"; done`;

/**
 * bookworm runs the whole chain (6 boots); trixie its key scenarios in 4
 * boots (rollback and kargs share a reboot; the upgrade has no layered
 * package), to keep the suite inside CI's time. APT_OSTREE_E2E_FULL=1 runs
 * the whole chain on every suite.
 */
const FULL_CHAIN_SUITES: readonly E2eSuite[] = process.env.APT_OSTREE_E2E_FULL === '1' ? E2E_SUITES : ['bookworm'];

for (const suite of suitesToRun()) {
  const full = FULL_CHAIN_SUITES.includes(suite);
  describe(`apt-ostree on a booted Debian ${suite} under QEMU (UEFI)`, { timeout: 45 * 60_000 }, () => {
    let images: E2eImages;
    let runDir: string;
    let artifacts: string;
    let serialLog: string;
    let systemImg: string;
    let dataImg: string;
    let firmware: Firmware;
    let accel: Accel;
    let vm: Vm | undefined;
    let boots = 0;
    const started = Date.now();
    /** Set when a step of the boot chain failed: later steps depend on it. */
    let chainBroken: string | undefined;

    async function boot(): Promise<Vm> {
      boots += 1;
      if (boots === 1) {
        accel = await chooseAccel(bootFilesFromImage(systemImg, join(runDir, 'probe')), runDir);
        log(`${suite}: accelerator: ${accel}`);
      }
      const t0 = Date.now();
      vm = Vm.start({ disks: [{ path: systemImg }, { path: dataImg, readonly: true }], firmware, workdir: runDir, serialLog, accel });
      await vm.waitForAgent(BOOT_TIMEOUT);
      log(`${suite}: boot ${boots}: agent up after ${Math.round((Date.now() - t0) / 1000)} s`);
      await vm.must(`mkdir -p ${GUEST_DATA} && { mountpoint -q ${GUEST_DATA} || mount -o ro LABEL=E2EDATA ${GUEST_DATA}; }`);
      return vm;
    }

    async function reboot(): Promise<Vm> {
      const t0 = Date.now();
      if (vm) await vm.shutdown();
      log(`${suite}: shutdown ${boots}: ${Math.round((Date.now() - t0) / 1000)} s`);
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

    /** GRUB's menu boots the deployments of status (staged ones aside), in the same order. */
    async function assertMenuFollowsStatus(): Promise<string[]> {
      const menu = (await guest().must(MENU_DEPLOYMENTS)).split('\n').filter((l) => l !== '');
      const ds = (await deployments()).filter((d) => !d.staged).map((d) => `${d.checksum}.${d.serial}`);
      const cfg = await guest().must('cat /boot/grub/grub.cfg');
      assert.deepEqual(menu, ds, `GRUB's menu (/boot/grub/grub.cfg) lists the deployments in boot order:\n${cfg}`);
      return menu;
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

    /**
     * A step of the changes without a reboot (apply-live, usroverlay), on the first suite: skipped after a
     * failed step of the chain; its own failure fails it without skipping the rest of the chain.
     */
    const live = suite === suitesToRun()[0];
    function liveStep(name: string, fn: (vm: Vm) => Promise<void>): void {
      if (!live) return;
      it(name, { timeout: 2 * OP_TIMEOUT }, async (t) => {
        if (chainBroken) {
          t.skip(`depends on an earlier step that failed: ${chainBroken}`);
          return;
        }
        await fn(guest());
      });
    }

    before(async () => {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      artifacts = join(ROOT, '.test-artifacts', `e2e-${suite}-${stamp}`);
      mkdirSync(artifacts, { recursive: true });
      serialLog = join(artifacts, 'serial.log');
      const t0 = Date.now();
      images = await e2eImages(suite);
      log(`${suite}: images ${images.built ? 'built' : 'cached'} in ${Math.round((Date.now() - t0) / 1000)} s: ${images.dir}`);
      runDir = tmpdir(`e2e-run-${suite}`);
      systemImg = join(runDir, 'system.img');
      sh('cp', ['--sparse=always', images.baseImage, systemImg]);
      truncateSync(systemImg, statSync(systemImg).size + GROW_BY);
      dataImg = dataDisk(images, runDir);
      firmware = ovmfFirmware(runDir);
    });

    after(async () => {
      if (vm) await vm.kill();
      if (runDir) rmSync(runDir, { recursive: true, force: true });
      if (serialLog) log(`${suite}: serial console: ${serialLog}`);
      log(`${suite}: ${boots} boots, ${Math.round((Date.now() - started) / 1000)} s in all`);
    });

    step('boots the image through the firmware and GRUB to its agent', async () => {
      await boot();
      const cmdline = await guest().must('cat /proc/cmdline');
      assert.match(cmdline, /ostree=\/ostree\/boot\.\d\/debian\//);
      await guest().must('test -e /run/ostree-booted');
      await guest().must('test -d /sys/firmware/efi');
      // The guest's APT sources: only the archive on the data disk (no network).
      await guest().must(
        `rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; echo 'deb [trusted=yes] copy:${GUEST_DATA}/archive ./' > /etc/apt/sources.list.d/e2e.list`,
      );
      await guest().must('id e2euser >/dev/null 2>&1 || useradd --shell /bin/sh e2euser');
    });

    it('the root file system grew to fill the disk on the first boot', async () => {
      const v = guest();
      await v.must('systemctl start apt-ostree-grow-root.service');
      const size = Number((await v.must('findmnt -bno SIZE /sysroot')).trim());
      const imageRoot = diskPartitions(images.baseImage)[2].size * 512;
      assert.ok(size > imageRoot + GROW_BY / 2, `root is ${size} bytes; its partition in the image had ${imageRoot}`);
    });

    step('status marks the booted deployment; GRUB lists it', async () => {
      const text = await guest().must('apt-ostree status');
      assert.match(text, /^● /m, `status marks the booted deployment:\n${text}`);
      const b = await booted();
      assert.equal(b.checksum, images.c1);
      assert.equal((await assertMenuFollowsStatus()).length, 1);
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

    liveStep('install -A: the package works in this boot; the same change is staged for the next', liveInstallApplyLive);
    liveStep('status shows the live state (unlocked transient, the live commit, what came live)', liveStatus);
    liveStep('usroverlay on a deployment apply-live unlocked is refused, naming its state', liveUsrOverlayRefusedWhileTransient);
    liveStep('apply-live --reset removes the live addition in the same boot', liveResetRemovesAddition);

    step('install stages a deployment; after a reboot it is booted with the package and the /etc edit; GRUB lists both', async () => {
      let v = guest();
      await v.must('echo "edited before the reboot" > /etc/e2e-edit');
      const out = await v.must(`apt-ostree install ${FIXTURE_PKG}`, OP_TIMEOUT);
      assert.doesNotMatch(out, /running in-process/, `the client went through the daemon:\n${out}`);
      const startedAt = await v.must('systemctl show -p ExecMainStartTimestampMonotonic --value apt-ostreed.service');
      assert.notEqual(startedAt.trim(), '0', 'apt-ostreed.service was started (D-Bus activation under systemd)');
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
      const menu = await assertMenuFollowsStatus();
      assert.equal(menu.length, 2, 'both deployments are in the menu');
      assert.equal(menu[0], `${b.checksum}.${b.serial}`, 'the booted deployment is the default');
    });

    liveStep(
      'apply-live of a change that removes a file of the booted tree is refused without --allow-replacement',
      liveReplacementRefused,
    );
    liveStep('usroverlay makes /usr writable in this boot; a second one is refused', liveUsrOverlayWritable);

    if (full) {
      step('rollback: GRUB defaults to the previous deployment; a reboot boots it, the package gone', async () => {
        await guest().must('apt-ostree rollback', OP_TIMEOUT);
        const menu = await assertMenuFollowsStatus();
        assert.ok(menu[0].startsWith(`${images.c1}.`), `the menu's default is the first deployment (${images.c1}): ${menu.join(', ')}`);
        const v = await reboot();
        const b = await booted();
        assert.equal(b.checksum, images.c1);
        const r = await v.run('command -v e2e-hello');
        assert.notEqual(r.code, 0, 'e2e-hello is gone');
      });
      liveStep('the usroverlay write is gone after the reboot; /usr is locked again', liveUsrOverlayGoneAfterReboot);

      step('kargs --append, reboot: /proc/cmdline has it', async () => {
        await guest().must('apt-ostree kargs --append=e2e.karg=foo', OP_TIMEOUT);
        const v = await reboot();
        const cmdline = await v.must('cat /proc/cmdline');
        assert.match(cmdline, /(^| )e2e\.karg=foo( |$)/m, cmdline);
        await assertMenuFollowsStatus();
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
        await assertMenuFollowsStatus();
      });
    } else {
      step(
        'rollback and kargs --append: GRUB defaults to the first base; a reboot boots it without the package, with the argument',
        async () => {
          await guest().must('apt-ostree rollback', OP_TIMEOUT);
          const menu = await assertMenuFollowsStatus();
          assert.ok(menu[0].startsWith(`${images.c1}.`), `the menu's default is the first deployment (${images.c1}): ${menu.join(', ')}`);
          await guest().must('apt-ostree kargs --append=e2e.karg=foo', OP_TIMEOUT);
          const v = await reboot();
          const b = await booted();
          assert.equal(b.checksum, images.c1);
          const r = await v.run('command -v e2e-hello');
          assert.notEqual(r.code, 0, 'e2e-hello is gone');
          assert.match(await v.must('cat /proc/cmdline'), /(^| )e2e\.karg=foo( |$)/m);
          await assertMenuFollowsStatus();
        },
      );
      liveStep('the usroverlay write is gone after the reboot; /usr is locked again', liveUsrOverlayGoneAfterReboot);

      step('upgrade from the repository on the second disk, reboot: the new base is booted, the argument kept', async () => {
        await guest().must('apt-ostree upgrade', OP_TIMEOUT);
        const v = await reboot();
        const b = await booted();
        assert.equal(b['base-checksum'] ?? b.checksum, images.c2, `the upgraded base ${images.c2} is booted: ${JSON.stringify(b)}`);
        assert.equal((await v.must(`cat ${UPGRADE_MARKER}`)).trim(), images.c2Version);
        assert.match(await v.must('cat /proc/cmdline'), /(^| )e2e\.karg=foo( |$)/m, 'kernel arguments are kept across the upgrade');
        await assertMenuFollowsStatus();
      });
    }

    it('powers off cleanly', async () => {
      if (!vm || !vm.running) return;
      await vm.shutdown(240_000, 'poweroff');
      log(`${suite}: last lines of the serial console:\n${tailFile(serialLog, 5)}`);
    });

    if (suite === suitesToRun()[0]) {
      it('a boot that fails fails with the last lines of its serial console', async () => {
        // The image's kernel, booted directly without its initramfs, cannot mount a virtio root: it panics, and QEMU exits.
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
    }
  });
}
