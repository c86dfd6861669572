/**
 * `apt-ostree compose image`, through the real CLI, on tiny trees committed
 * with the real `ostree` (non-booting stand-ins for the kernel and GRUB's
 * files are enough for OSTree to deploy and for the image to be laid out):
 * the image is a GPT disk (read back with sfdisk) whose EFI system partition
 * holds the boot loader (mtools), whose /boot holds OSTree's BLS entries and
 * the GRUB menu made by OSTree's own generator, and whose root holds the
 * sysroot, set up for GRUB (debugfs at the partitions' offsets); and each bad
 * input is a clear error that leaves nothing behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, sh, tmpdir, removeTree } from '../lib/env';
import { commitMiniTree, MINI_KVER, MINI_REF } from '../lib/sysroot';
import { imageKargs, imageLayout, parseFormat, parseSize } from '../../src/engine/compose/image';
import { PLACEHOLDER_KVER, writePlaceholderKernel } from '../../src/engine/compose/layout';

const NOKERNEL_REF = 'test/no-kernel';
const PLACEHOLDER_REF = 'test/placeholder-kernel';
/** MINI_REF plus stand-ins of the files the boot loader needs. */
const BOOTABLE_REF = 'test/bootable';
/** BOOTABLE_REF plus stand-ins of shim-signed's and grub-efi-amd64-signed's files. */
const SIGNED_REF = 'test/bootable-signed';
const EFI_STANDIN = 'stand-in GRUB EFI image\n';
const MiB = 1024 ** 2;

let dir: string;
let repo: string;

interface Part {
  start: number;
  size: number;
  type: string;
  name?: string;
}

function partitions(image: string): Part[] {
  const j = JSON.parse(sh('sfdisk', ['--json', image])) as { partitiontable: { label: string; partitions: Part[] } };
  assert.equal(j.partitiontable.label, 'gpt');
  return j.partitiontable.partitions;
}

/** debugfs on the ext4 file system at a partition's offset (no extraction, no mount). */
function debugfs(image: string, p: Part, req: string): string {
  return sh('debugfs', ['-R', req, `${image}?offset=${p.start * 512}`]);
}

function lsNames(image: string, p: Part, path: string): string[] {
  return debugfs(image, p, `ls -p ${path}`)
    .split('\n')
    .map((l) => l.split('/')[5])
    .filter((n): n is string => n !== undefined && n !== '' && n !== '.' && n !== '..');
}

/** Nothing but `keep` in the output directory (no OUT.tmp, no scratch sysroot). */
function assertClean(keep: string[], where = dir): void {
  const left = readdirSync(where).filter((n) => n !== 'repo' && !keep.includes(n));
  assert.deepEqual(left, [], `left behind in ${where}: ${left.join(', ')}`);
}

describe('compose image', () => {
  before(() => {
    dir = tmpdir('compose-image');
    repo = join(dir, 'repo');
    commitMiniTree(repo, '1.0');
    // A tree with no kernel at all, and one with the placeholder of "kernel: placeholder".
    for (const [ref, placeholder] of [
      [NOKERNEL_REF, false],
      [PLACEHOLDER_REF, true],
    ] as const) {
      const tree = join(dir, `tree-${placeholder}`);
      mkdirSync(join(tree, 'usr', 'etc'), { recursive: true });
      writeFileSync(join(tree, 'usr', 'etc', 'hostname'), 'x\n');
      if (placeholder) writePlaceholderKernel(tree);
      sh('ostree', ['commit', `--repo=${repo}`, `--branch=${ref}`, `--tree=dir=${tree}`]);
      removeTree(tree);
    }
    const overlay = join(dir, 'grub-overlay');
    for (const d of ['usr/lib/grub/x86_64-efi/monolithic', 'usr/sbin', 'usr/etc/grub.d', 'usr/libexec/libostree']) {
      mkdirSync(join(overlay, d), { recursive: true });
    }
    writeFileSync(join(overlay, 'usr/lib/grub/x86_64-efi/monolithic/grubx64.efi'), EFI_STANDIN);
    writeFileSync(join(overlay, 'usr/sbin/grub-mkconfig'), '#!/bin/sh\n');
    writeFileSync(join(overlay, 'usr/libexec/libostree/grub2-15_ostree'), '#!/bin/sh\n');
    symlinkSync('/usr/libexec/libostree/grub2-15_ostree', join(overlay, 'usr/etc/grub.d/15_ostree'));
    sh('ostree', ['commit', `--repo=${repo}`, `--branch=${BOOTABLE_REF}`, `--tree=ref=${MINI_REF}`, `--tree=dir=${overlay}`]);
    removeTree(overlay);
    const signed = join(dir, 'signed-overlay');
    mkdirSync(join(signed, 'usr/lib/shim'), { recursive: true });
    mkdirSync(join(signed, 'usr/lib/grub/x86_64-efi-signed'), { recursive: true });
    writeFileSync(join(signed, 'usr/lib/shim/shimx64.efi.signed'), 'stand-in shim\n');
    writeFileSync(join(signed, 'usr/lib/shim/mmx64.efi.signed'), 'stand-in MokManager\n');
    writeFileSync(join(signed, 'usr/lib/shim/fbx64.efi.signed'), 'stand-in fallback\n');
    writeFileSync(join(signed, 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed'), 'stand-in signed GRUB\n');
    sh('ostree', ['commit', `--repo=${repo}`, `--branch=${SIGNED_REF}`, `--tree=ref=${BOOTABLE_REF}`, `--tree=dir=${signed}`]);
    removeTree(signed);
  });
  after(() => removeTree(dir));

  it('parses sizes and formats, builds the kernel arguments and lays out the disk', () => {
    assert.equal(parseSize('4G'), 4 * 1024 ** 3);
    assert.equal(parseSize('512M'), 512 * 1024 ** 2);
    assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
    assert.equal(parseSize(String(64 * 1024 ** 2)), 64 * 1024 ** 2);
    assert.throws(() => parseSize('big'), /is not a size/);
    assert.throws(() => parseSize('1K'), /too small/);
    assert.equal(parseFormat('qcow2'), 'qcow2');
    assert.throws(() => parseFormat('vmdk'), /--format "vmdk" is not an image format/);
    assert.deepEqual(imageKargs('U', []), ['root=UUID=U', 'rw', 'console=ttyS0']);
    assert.deepEqual(imageKargs('U', ['foo=bar']), ['root=UUID=U', 'rw', 'console=ttyS0', 'foo=bar']);
    assert.deepEqual(imageKargs('U', ['root=/dev/sda2', 'console=tty0']), ['rw', 'root=/dev/sda2', 'console=tty0']);
    // 1 GiB of tree, 100 MiB of kernels: /boot holds four sets, root the tree twice over plus 1 GiB.
    const l = imageLayout(1024 * MiB, 100 * MiB, undefined);
    assert.equal(l.boot, 512 * MiB);
    assert.equal(l.total, MiB + 128 * MiB + l.boot + l.root + MiB);
    assert.ok(l.root >= 3 * 1024 * MiB);
    assert.equal(imageLayout(1024 * MiB, 200 * MiB, 8 * 1024 ** 3).boot, 896 * MiB);
  });

  it('writes a GPT disk: the ESP with GRUB, /boot with the entries and the GRUB menu, root with the sysroot', () => {
    const out = join(dir, 'disk.img');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, '--karg', 'quiet', '--karg', 'foo=bar', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Wrote .*disk\.img \(raw, /);
    assert.match(r.stdout, /GRUB \(unsigned: Secure Boot off\) at EFI\/BOOT\/BOOTX64\.EFI/);
    assert.ok(statSync(out).size >= 1024 ** 3, 'the default size leaves room for updates');
    const [esp, boot, root, ...more] = partitions(out);
    assert.equal(more.length, 0, 'three partitions');
    assert.equal(esp.type, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'the first is the EFI system partition');
    assert.equal(root.type, '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', 'the last is the x86-64 root');
    assert.equal(root.start + root.size, statSync(out).size / 512 - 2048, 'root ends at the last MiB (the backup GPT)');

    // The ESP: GRUB on the removable-media path, its grub.cfg finds /boot by UUID.
    const espAt = `${out}@@${esp.start * 512}`;
    assert.equal(sh('mtype', ['-i', espAt, '::/EFI/BOOT/BOOTX64.EFI']), EFI_STANDIN);
    const bootUuid = /^Filesystem UUID:\s+(\S+)/m.exec(sh('dumpe2fs', ['-h', `${out}?offset=${boot.start * 512}`]))?.[1];
    assert.ok(bootUuid, '/boot is ext4 with a UUID');
    for (const d of ['BOOT', 'debian']) {
      const cfg = sh('mtype', ['-i', espAt, `::/EFI/${d}/grub.cfg`]);
      assert.match(cfg, new RegExp(`search --no-floppy --fs-uuid --set=root ${bootUuid}`));
      assert.match(cfg, /function linux16 \{\n\s+linux "\$@"/);
      assert.match(cfg, /source \(\$root\)\/grub\/grub\.cfg/);
    }

    // /boot: the BLS entry with the default and the given kernel arguments, OSTree's GRUB menu.
    const uuid = /^Filesystem UUID:\s+(\S+)/m.exec(sh('dumpe2fs', ['-h', `${out}?offset=${root.start * 512}`]))?.[1];
    assert.ok(uuid, 'root is ext4 with a UUID');
    const entries = lsNames(out, boot, '/loader/entries').filter((n) => n.endsWith('.conf'));
    assert.equal(entries.length, 1);
    const entry = debugfs(out, boot, `cat /loader/entries/${entries[0]}`);
    const options = /^options (.*)$/m.exec(entry)?.[1] ?? '';
    assert.match(options, new RegExp(`^root=UUID=${uuid} rw console=ttyS0 quiet foo=bar ostree=/ostree/boot\\.\\d/debian/`));
    const linux = /^linux (.*)$/m.exec(entry)?.[1] ?? '';
    assert.match(linux, new RegExp(`^/ostree/debian-[0-9a-f]+/vmlinuz-${MINI_KVER}$`));
    assert.equal(debugfs(out, boot, `cat ${linux}`), 'placeholder kernel 1.0\n');
    assert.match(debugfs(out, boot, 'stat /grub/grub.cfg'), /Fast link dest: "\.\.\/loader\/grub\.cfg"/);
    const menu = debugfs(out, boot, 'cat /loader/grub.cfg');
    assert.match(menu, /^set default=0$/m);
    assert.equal((menu.match(/^menuentry /gm) ?? []).length, 1, menu);
    assert.match(menu, /^linux(16)? /m);
    assert.ok(menu.includes(` ${linux} ${options}\n`), `the menu entry boots the BLS entry:\n${menu}`);
    assert.match(menu, new RegExp(`search --no-floppy --fs-uuid --set=root ${bootUuid}`));

    // Root: the sysroot without /boot's files; the deployment's /etc mounts /boot and grows root; OSTree runs GRUB's generator.
    assert.deepEqual(lsNames(out, root, '/boot'), []);
    assert.match(debugfs(out, root, 'cat /ostree/repo/config'), /bootloader=grub2/);
    const deploy = lsNames(out, root, '/ostree/deploy/debian/deploy').find((n) => /\.0$/.test(n));
    assert.ok(deploy, 'a deployment');
    const etc = `/ostree/deploy/debian/deploy/${deploy}/etc`;
    assert.match(debugfs(out, root, `cat ${etc}/fstab`), new RegExp(`^UUID=${bootUuid} /boot ext4 defaults 0 2$`, 'm'));
    assert.match(debugfs(out, root, `cat ${etc}/default/grub`), /^GRUB_TERMINAL=console$/m);
    assert.match(debugfs(out, root, `cat ${etc}/systemd/system/apt-ostree-grow-root.service`), /resize2fs/);
    assert.ok(lsNames(out, root, `${etc}/systemd/system/multi-user.target.wants`).includes('apt-ostree-grow-root.service'));
    assert.match(lsNames(out, root, '/ostree/deploy/debian/deploy').join(' '), /\.0\.origin/);
    assertClean(['disk.img']);
  });

  it("installs Debian's signed chain (shim, signed GRUB) when the tree has it", () => {
    const out = join(dir, 'signed.img');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', SIGNED_REF, '--size', '1G', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /shim and Debian's signed GRUB \(Secure Boot\) at EFI\/BOOT\/BOOTX64\.EFI/);
    const espAt = `${out}@@${partitions(out)[0].start * 512}`;
    assert.equal(sh('mtype', ['-i', espAt, '::/EFI/BOOT/BOOTX64.EFI']), 'stand-in shim\n');
    assert.equal(sh('mtype', ['-i', espAt, '::/EFI/BOOT/grubx64.efi']), 'stand-in signed GRUB\n');
    assert.equal(sh('mtype', ['-i', espAt, '::/EFI/BOOT/mmx64.efi']), 'stand-in MokManager\n');
    const names = sh('mdir', ['-b', '-i', espAt, '::/EFI/BOOT']);
    assert.doesNotMatch(names, /fbx64/i, "shim's fallback is left out");
    removeTree(out);
  });

  it('writes qcow2 with --format qcow2, and refuses an unknown format', () => {
    const out = join(dir, 'disk.qcow2');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, '--format', 'qcow2', '--size', '2G', out]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(sh('qemu-img', ['info', '--output=json', out])) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 2 * 1024 ** 3);
    assert.ok(statSync(out).size < 200 * MiB, 'qcow2 holds only the written clusters');
    const bad = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, '--format', 'vmdk', join(dir, 'x.vmdk')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--format "vmdk" is not an image format/);
    assert.match(bad.stderr, /raw, qcow2/);
    assertClean(['disk.img', 'disk.qcow2']);
  });

  it('refuses an existing file without --force, and replaces it with --force', () => {
    const out = join(dir, 'exists.img');
    writeFileSync(out, 'precious\n');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exists\.img already exists/);
    assert.match(r.stderr, /--force/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(readFileSync(out, 'utf8'), 'precious\n', 'the file is untouched');
    const f = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, '--size', '1G', '--force', out]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(statSync(out).size, 1024 ** 3);
    assertClean(['disk.img', 'disk.qcow2', 'exists.img']);
  });

  for (const [what, ref] of [
    ['no kernel', NOKERNEL_REF],
    ['only the placeholder kernel', PLACEHOLDER_REF],
  ] as const) {
    it(`refuses a ref with ${what}`, () => {
      const out = join(dir, 'nokernel.img');
      const r = runCli(['compose', 'image', '--repo', repo, '--ref', ref, out]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`${ref.replace('/', '\\/')} \\([0-9a-f]{10}\\) has no kernel to boot`));
      assert.match(r.stderr, /hint: .*kernel: linux-image-amd64/);
      assert.ok(!existsSync(out));
      assertClean(['disk.img', 'disk.qcow2', 'exists.img']);
    });
  }

  it('refuses a ref without the boot loader, naming the packages and the treefile field', () => {
    const out = join(dir, 'nogrub.img');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /has no boot loader for the image: \/usr\/lib\/grub\/x86_64-efi\/monolithic\/grubx64\.efi/);
    assert.match(r.stderr, /hint: add grub-efi-amd64-bin, grub-common, ostree-boot to "packages:" in the treefile/);
    assert.ok(!existsSync(out));
    assertClean(['disk.img', 'disk.qcow2', 'exists.img']);
  });

  it('the placeholder kernel is the one of layout.ts', () => {
    assert.equal(PLACEHOLDER_KVER, '0.0.0-placeholder');
  });

  it('refuses a size too small for the tree plus the ESP and /boot, leaving nothing', () => {
    const out = join(dir, 'small.img');
    const r = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, '--size', '700M', out]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /--size 700 MiB is too small for test\/bootable: the EFI system partition \(128 MiB\), \/boot \(512 MiB\) and the root file system \(at least .* for a deployed sysroot of .*\) need at least/,
    );
    assert.match(r.stderr, /hint: give --size \S+ or more/);
    const tiny = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, '--size', '300M', out]);
    assert.notEqual(tiny.code, 0);
    assert.match(tiny.stderr, /the EFI system partition \(128 MiB\) and \/boot \(512 MiB\) alone take more/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.tmp`));
    assertClean(['disk.img', 'disk.qcow2', 'exists.img']);
  });

  it('an output on a full file system: a clear error, and the partial files removed', (t) => {
    const small = join(dir, 'full');
    mkdirSync(small);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', small], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot mount a tmpfs here: ${m.stderr}`);
      return;
    }
    try {
      const out = join(small, 'disk.img');
      const r = runCli(['compose', 'image', '--repo', repo, '--ref', BOOTABLE_REF, out]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`no space left on the file system of ${small}`));
      assert.match(r.stderr, /hint: the image needs about .* free there/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assertClean([], small);
    } finally {
      spawnSync('umount', [small]);
    }
    assertClean(['disk.img', 'disk.qcow2', 'exists.img', 'full']);
  });

  it('refuses a missing ref and a missing repository', () => {
    const out = join(dir, 'x.img');
    const a = runCli(['compose', 'image', '--repo', repo, '--ref', 'no/such/ref', out]);
    assert.notEqual(a.code, 0);
    assert.match(a.stderr, /no ref "no\/such\/ref"/);
    const b = runCli(['compose', 'image', '--repo', join(dir, 'nope'), '--ref', MINI_REF, out]);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /is not an OSTree repository/);
    const c = runCli(['compose', 'image', '--repo', repo, '--ref', MINI_REF, '--size', 'huge', out]);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /--size "huge" is not a size/);
    assertClean(['disk.img', 'disk.qcow2', 'exists.img', 'full']);
  });
});
