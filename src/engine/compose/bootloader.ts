/**
 * The boot loader of `compose image`: GRUB for UEFI, following OSTree's
 * deployments through libostree's own GRUB integration.
 *
 * Debian's GRUB (2.06 in bookworm, 2.12 in trixie) has no `blscfg` command,
 * so GRUB cannot read OSTree's BLS entries itself. libostree's "grub2"
 * backend (`sysroot.bootloader=grub2`) instead runs grub-mkconfig at every
 * change of the boot entries (deploy, staged finalization at shutdown,
 * rollback, cleanup); ostree-boot's /etc/grub.d/15_ostree turns the BLS
 * entries into menu entries, default first. The menu is written to
 * /boot/loader.N/grub.cfg and switched with the /boot/loader symlink, so it
 * changes atomically with the entries; /boot/grub/grub.cfg points there.
 *
 * On the EFI system partition: Debian's monolithic GRUB image from the tree
 * (grub-efi-amd64-bin; or shim and the signed GRUB when the tree has them,
 * for Secure Boot) on the removable-media path EFI/BOOT/BOOTX64.EFI, and a
 * small grub.cfg that finds /boot by its UUID and reads that menu. Some
 * versions of OSTree's generator write BIOS commands (linux16/initrd16),
 * which GRUB for EFI does not have: the small grub.cfg defines them as
 * functions calling linux/initrd.
 */
import { AptOstreeError } from '../errors';
import { run } from '../exec';

/** A file of the tree that the boot loader needs, and the package that brings it. */
export interface BootloaderFile {
  /** Path in the commit (/etc is /usr/etc there). */
  path: string;
  pkg: string;
  why: string;
}

/** Debian's monolithic GRUB EFI image (modules built in: no module directory on the ESP). */
export const GRUB_EFI_IMAGE = '/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi';

export const BOOTLOADER_FILES: readonly BootloaderFile[] = [
  { path: GRUB_EFI_IMAGE, pkg: 'grub-efi-amd64-bin', why: 'the GRUB EFI image put on the EFI system partition' },
  { path: '/usr/sbin/grub-mkconfig', pkg: 'grub-common', why: 'grub-mkconfig, which OSTree runs at every deployment' },
  { path: '/usr/etc/grub.d/15_ostree', pkg: 'ostree-boot', why: "OSTree's menu generator for grub-mkconfig" },
];

/** The files of BOOTLOADER_FILES that REF lacks. */
export async function missingBootloaderFiles(repo: string, ref: string, signal: AbortSignal): Promise<BootloaderFile[]> {
  const missing: BootloaderFile[] = [];
  for (const f of BOOTLOADER_FILES) {
    const r = await run('ostree', ['ls', `--repo=${repo}`, ref, f.path], { okCodes: [1], signal, errorCode: 'ostree' });
    if (r.code !== 0) missing.push(f);
  }
  return missing;
}

/**
 * Debian's signed chain for Secure Boot, used when the tree has it
 * (shim-signed and grub-efi-amd64-signed in the treefile's packages): shim,
 * signed by Microsoft's UEFI CA, on the removable-media path; it loads
 * grubx64.efi from its own directory (Debian's signed monolithic GRUB), which
 * boots only kernels signed by Debian (shim's vendor key) or enrolled with
 * MokManager (mmx64.efi). shim's fallback (fbx64.efi) is left out: it would
 * write firmware boot entries and reset the machine.
 */
export const SIGNED_CHAIN = {
  shim: '/usr/lib/shim/shimx64.efi.signed',
  grub: '/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed',
  mokManager: '/usr/lib/shim/mmx64.efi.signed',
} as const;

/** The files of the ESP's EFI/BOOT directory, from a deployed tree: name on the ESP -> path in the tree. */
export function espLoaderFiles(has: (treePath: string) => boolean): { files: Record<string, string>; signed: boolean } {
  if (has(SIGNED_CHAIN.shim) && has(SIGNED_CHAIN.grub)) {
    const files: Record<string, string> = { 'BOOTX64.EFI': SIGNED_CHAIN.shim, 'grubx64.efi': SIGNED_CHAIN.grub };
    if (has(SIGNED_CHAIN.mokManager)) files['mmx64.efi'] = SIGNED_CHAIN.mokManager;
    return { files, signed: true };
  }
  return { files: { 'BOOTX64.EFI': GRUB_EFI_IMAGE }, signed: false };
}

/** Where the ESP's grub.cfg goes: beside BOOTX64.EFI, and in the prefix Debian's image is built with (/EFI/debian). */
export const ESP_GRUB_CFG_DIRS = ['EFI/BOOT', 'EFI/debian'];
export const ESP_LOADER_PATH = 'EFI/BOOT/BOOTX64.EFI';

/** The grub.cfg of the EFI system partition: find /boot, read the menu OSTree keeps there. */
export function espGrubCfg(bootUuid: string): string {
  return `# Written by apt-ostree compose image. The menu itself is /boot/grub/grub.cfg,
# rewritten by OSTree (grub-mkconfig with /etc/grub.d/15_ostree) at every deployment.
search --no-floppy --fs-uuid --set=root ${bootUuid}
set prefix=($root)/grub
set default=0
set timeout=5
# Some versions of OSTree's generator write BIOS commands; GRUB for EFI boots with linux/initrd.
function linux16 {
  linux "$@"
}
function initrd16 {
  initrd "$@"
}
function load_video {
  insmod all_video
}
source ($root)/grub/grub.cfg
`;
}

/**
 * /etc/default/grub of the image (grub-common does not ship one and
 * 15_ostree reads it): a text console (also the serial one), a 5 s menu.
 */
export const DEFAULT_GRUB = `# Written by apt-ostree compose image; read by grub-mkconfig, which OSTree
# runs at every deployment (the menu lists the deployments, default first).
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=\`( . /etc/os-release && echo "$NAME" ) 2>/dev/null || echo Debian\`
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX=""
GRUB_TERMINAL=console
GRUB_DISABLE_OS_PROBER=true
`;

/**
 * The first menu of the image, made on the build machine: OSTree's own
 * generator (`ostree admin instutil grub2-generate`, what 15_ostree runs)
 * for the entries of BOOTVERSION, after a header with the default and the
 * timeout. The guest's first deployment replaces it by grub-mkconfig's.
 */
export async function initialGrubCfg(sysrootDir: string, bootversion: number, bootUuid: string, signal: AbortSignal): Promise<string> {
  const r = await run('ostree', ['admin', 'instutil', 'grub2-generate', `--sysroot=${sysrootDir}`, String(bootversion)], {
    signal,
    errorCode: 'ostree',
    what: 'generating the GRUB menu of the deployment',
    env: {
      ...process.env,
      _OSTREE_GRUB2_BOOTVERSION: String(bootversion),
      GRUB2_BOOT_DEVICE_ID: bootUuid,
      GRUB2_PREPARE_ROOT_CACHE: `insmod part_gpt\ninsmod ext2\nsearch --no-floppy --fs-uuid --set=root ${bootUuid}`,
    },
  });
  if (!/^menuentry /m.test(r.stdout)) {
    throw new AptOstreeError('ostree', 'OSTree wrote no GRUB menu entry for the deployment', { details: r.stdout + r.stderr });
  }
  return `# Written by apt-ostree compose image; OSTree rewrites it at the next deployment.
set default=0
set timeout=5
${r.stdout}`;
}

/**
 * The grow-root unit: on the first boot on a larger disk, the root partition
 * (the last one) takes the free space after it and its ext4 grows online.
 * sfdisk (fdisk) moves the backup GPT to the end of the disk and tells the
 * kernel the new size of the partition in use.
 */
export const GROW_ROOT_UNIT = 'apt-ostree-grow-root.service';
export const GROW_ROOT_STAMP = '/var/lib/apt-ostree/root-grown';
export const GROW_ROOT_SERVICE = `# Written by apt-ostree compose image.
[Unit]
Description=Grow the root partition and file system to the size of the disk
ConditionPathExists=!${GROW_ROOT_STAMP}
ConditionPathIsMountPoint=/sysroot
After=local-fs.target
Before=apt-ostreed.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -euc 'part=$$(findmnt -nvo SOURCE /sysroot); name=$$(basename "$$part"); \\
  disk=/dev/$$(basename "$$(readlink -f /sys/class/block/$$name/..)"); nr=$$(cat /sys/class/block/$$name/partition); \\
  echo ", +" | sfdisk --force --no-reread -q -N "$$nr" "$$disk" || true; \\
  partx -u --nr "$$nr" "$$disk" 2>/dev/null || true; resize2fs "$$part"; \\
  mkdir -p "$$(dirname ${GROW_ROOT_STAMP})"; touch ${GROW_ROOT_STAMP}'

[Install]
WantedBy=multi-user.target
`;
