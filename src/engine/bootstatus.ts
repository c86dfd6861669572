/**
 * Boot status: what apt-ostree-bootstatus.service logs once per boot. Which
 * deployment booted (checksum.serial, stateroot, version, origin, layered
 * packages and overrides) and whether it is the default one or a rollback
 * (an older deployment chosen in the boot menu, or after the default failed).
 *
 * On a system not booted with OSTree (no /run/ostree-booted) there is nothing
 * to say: the report is empty and the command exits 0 quietly.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSysroot, type Deployment, type Sysroot } from './sysroot';

/** syslog priorities journald understands as `<N>` line prefixes. */
export type Priority = 3 | 4 | 5 | 6 | 7;

export interface BootStatusLine {
  priority: Priority;
  message: string;
}

export interface BootStatusReport {
  /** False when the system (or sysroot) was not booted with OSTree. */
  booted: boolean;
  /** Why `booted` is false. */
  reason?: string;
  /** `checksum.serial` of the booted deployment. */
  deployment?: string;
  isDefault?: boolean;
  lines: BootStatusLine[];
}

export interface BootStatusOptions {
  sysroot: string;
  /** The marker OSTree's initramfs leaves (default /run/ostree-booted); only consulted for sysroot "/". */
  bootedMarker?: string;
}

export async function bootStatus(opts: BootStatusOptions): Promise<BootStatusReport> {
  const abs = resolve(opts.sysroot);
  if (abs === '/' && !existsSync(opts.bootedMarker ?? '/run/ostree-booted')) {
    return { booted: false, reason: 'not booted with OSTree (no /run/ostree-booted)', lines: [] };
  }
  const sysroot = await loadSysroot(abs);
  return describeBoot(sysroot);
}

/** The report for a loaded sysroot (pure: no I/O). */
export function describeBoot(sysroot: Sysroot): BootStatusReport {
  const b = sysroot.booted;
  if (!b) return { booted: false, reason: `no deployment of ${sysroot.path} is booted`, lines: [] };
  const id = `${b.checksum}.${b.serial}`;
  const lines: BootStatusLine[] = [];
  const version = b.version ? `, version ${b.version}` : '';
  const def = sysroot.defaultDeployment;
  const isDefault = def === b;
  lines.push({
    priority: isDefault ? 5 : 4,
    message:
      `Booted deployment ${id} (stateroot ${b.osname}${version}): ` +
      (isDefault ? 'the default deployment' : 'a ROLLBACK, not the default deployment'),
  });
  if (!isDefault && def) {
    const what = def.staged ? 'staged' : 'default';
    lines.push({
      priority: 4,
      message:
        `The ${what} deployment is ${def.checksum}.${def.serial}${def.version ? ` (version ${def.version})` : ''}; ` +
        'it was not booted (chosen in the boot menu, or it failed to boot)',
    });
  }
  lines.push({ priority: 6, message: `Origin: ${describeOrigin(b)}` });
  if (b.baseChecksum !== b.checksum) lines.push({ priority: 6, message: `Base commit: ${b.baseChecksum}` });
  lines.push({ priority: 6, message: `Layered packages: ${describeLayered(b)}` });
  const o = b.origin;
  if (o && o.overrideRemove.length > 0) lines.push({ priority: 6, message: `Removed base packages: ${o.overrideRemove.join(' ')}` });
  if (o && o.overrideReplaceLocal.length > 0) {
    lines.push({ priority: 6, message: `Replaced base packages: ${o.overrideReplaceLocal.map((r) => r.nva).join(' ')}` });
  }
  if (b.pinned) lines.push({ priority: 6, message: 'The booted deployment is pinned' });
  return { booted: true, deployment: id, isDefault, lines };
}

function describeOrigin(d: Deployment): string {
  if (!d.origin) return `unreadable (${d.originError ?? 'no origin file'})`;
  return d.origin.overrideCommit ? `${d.origin.refspec} (pinned to commit ${d.origin.overrideCommit})` : d.origin.refspec;
}

function describeLayered(d: Deployment): string {
  const o = d.origin;
  if (!o) return 'unknown';
  const all = [...o.requestedPackages, ...o.requestedLocalPackages.map((r) => `${r.nva} (local)`)];
  return all.length === 0 ? 'none' : all.join(' ');
}

/** Journal form of a report: one `<N>message` line each (journald reads the prefix as the level). */
export function formatForJournal(lines: readonly BootStatusLine[], journal: boolean): string {
  const label: Record<Priority, string> = { 3: 'error: ', 4: 'warning: ', 5: '', 6: '', 7: '' };
  return lines.map((l) => `${journal ? `<${l.priority}>` : label[l.priority]}${l.message}\n`).join('');
}
