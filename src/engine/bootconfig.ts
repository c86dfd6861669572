/**
 * Operations on the boot configuration that build no tree: rollback (reorder
 * the deployments), kargs (a new deployment of the same commit with other
 * kernel arguments), cleanup (drop deployments, prune objects), pin/unpin.
 */
import { existsSync, rmSync } from 'node:fs';
import { AptOstreeError, CancelledError, usageError } from './errors';
import type { CleanupTarget, OperationContext, OperationRequest, OperationResult } from './operations/types';
import { run } from './exec';
import { cleanLeftovers } from './layering/assemble';
import * as admin from './ostree/admin';
import * as native from './ostree/native';
import { task } from './progress';
import { aptCacheDir, isValidKarg, loadSysroot, withSysrootLock, writeNewDeployment, type Deployment, type Sysroot } from './sysroot';

type BootConfigRequest = Extract<OperationRequest, { kind: 'rollback' | 'kargs' | 'cleanup' | 'pin' }>;

export async function runBootConfigOperation(ctx: OperationContext, req: BootConfigRequest): Promise<OperationResult> {
  return withSysrootLock(ctx.sysroot, async () => {
    const sysroot = await loadSysroot(ctx.sysroot);
    switch (req.kind) {
      case 'rollback':
        return rollback(ctx, sysroot, req.options.reboot === true);
      case 'kargs':
        return kargs(ctx, sysroot, req);
      case 'cleanup':
        return cleanup(ctx, sysroot, req.what);
      case 'pin':
        return pin(ctx, sysroot, req.index, req.unpin);
    }
  });
}

function idOf(d: Deployment): { osname: string; csum: string; deployserial: number } {
  return { osname: d.osname, csum: d.checksum, deployserial: d.serial };
}

function label(d: Deployment): string {
  return `${d.osname} ${d.checksum.slice(0, 10)}.${d.serial}${d.version ? ` (${d.version})` : ''}`;
}

/** The default deployment of the operation's stateroot. */
function defaultOf(ctx: OperationContext, s: Sysroot): Deployment {
  const osname = ctx.osname ?? s.defaultDeployment?.osname;
  const d = s.deployments.find((x) => x.osname === osname && !x.staged) ?? s.deployments.find((x) => x.osname === osname);
  if (!d) {
    throw new AptOstreeError('not-found', `no deployment${osname ? ` of stateroot ${osname}` : ''} in ${s.path}`, {
      hint: 'make one first, e.g. with "apt-ostree compose sysroot"',
    });
  }
  return d;
}

// ---------------------------------------------------------------------------
// rollback

async function rollback(ctx: OperationContext, s: Sysroot, reboot: boolean): Promise<OperationResult> {
  const target = s.rollback;
  if (!target) {
    throw new AptOstreeError('not-found', `there is no rollback deployment in ${s.path}`, {
      hint: 'a rollback needs a previous deployment; "apt-ostree status" lists them',
    });
  }
  if (ctx.signal.aborted) throw new CancelledError();
  const order = [target, ...s.deployments.filter((d) => d !== target && !d.staged)];
  await task(ctx.progress, `Moving ${label(target)} to be the first deployment`, () => native.writeDeployments(s.path, order.map(idOf)));
  return {
    changed: true,
    summary: `Moved ${label(target)} to be the first deployment; it is used at the next boot`,
    deployment: target.checksum,
    rebootRequested: reboot,
  };
}

// ---------------------------------------------------------------------------
// kargs

export interface KargEdits {
  set?: string[];
  append: string[];
  appendIfMissing: string[];
  delete: string[];
  deleteIfPresent: string[];
  replace: string[];
}

const keyOf = (k: string): string => {
  const i = k.indexOf('=');
  return i < 0 ? k : k.slice(0, i);
};

function checkSyntax(option: string, values: readonly string[]): void {
  for (const v of values) {
    if (!isValidKarg(v)) {
      throw new AptOstreeError('usage', `${option}: invalid kernel argument "${v}"`, {
        hint: 'kernel arguments are KEY or KEY=VALUE (quote a value that has spaces: KEY="a b"); no key may be empty',
      });
    }
  }
}

/**
 * Apply rpm-ostree's kargs edits to `current`: delete, then replace, then
 * append, then append-if-missing (when that exact argument is absent). Pure; throws a usage error on an edit that
 * cannot apply (deleting or replacing what is not there).
 */
export function editKargs(current: readonly string[], e: KargEdits): string[] {
  checkSyntax('--editor', e.set ?? []);
  checkSyntax('--append', e.append);
  checkSyntax('--append-if-missing', e.appendIfMissing);
  checkSyntax('--delete', e.delete);
  checkSyntax('--delete-if-present', e.deleteIfPresent);
  for (const r of e.replace) {
    // KEY=VALUE or KEY=OLD=NEW
    if (!isValidKarg(r) || !r.includes('=')) {
      throw new AptOstreeError('usage', `--replace: invalid "${r}"`, { hint: 'use --replace=KEY=VALUE or --replace=KEY=OLD=NEW' });
    }
  }
  let list = [...(e.set ?? current)];

  const del = (arg: string, mustExist: boolean): void => {
    const key = keyOf(arg);
    if (arg.includes('=')) {
      const i = list.indexOf(arg);
      if (i < 0) {
        if (mustExist) throw usageError(`--delete: there is no kernel argument "${arg}"`, 'see them with "apt-ostree kargs"');
        return;
      }
      list.splice(i, 1);
      return;
    }
    const matches = list.filter((k) => keyOf(k) === key);
    if (matches.length === 0) {
      if (mustExist) throw usageError(`--delete: there is no kernel argument "${key}"`, 'see them with "apt-ostree kargs"');
      return;
    }
    if (matches.length > 1) {
      throw usageError(`--delete: "${key}" has several values (${matches.join(' ')})`, `name the one to delete: --delete=${matches[0]}`);
    }
    list = list.filter((k) => keyOf(k) !== key);
  };
  for (const d of e.delete) del(d, true);
  for (const d of e.deleteIfPresent) del(d, false);

  for (const r of e.replace) {
    const key = keyOf(r);
    const rest = r.slice(key.length + 1);
    const matches = list.filter((k) => keyOf(k) === key);
    if (matches.length === 0) throw usageError(`--replace: there is no kernel argument "${key}"`, `add it with --append=${r}`);
    // KEY=OLD=NEW: replace that value (the value itself may contain '=' only in the KEY=VALUE form).
    const eq = rest.indexOf('=');
    if (eq >= 0 && matches.includes(`${key}=${rest.slice(0, eq)}`)) {
      const old = `${key}=${rest.slice(0, eq)}`;
      list[list.indexOf(old)] = `${key}=${rest.slice(eq + 1)}`;
      continue;
    }
    if (matches.length > 1) {
      throw usageError(`--replace: "${key}" has several values (${matches.join(' ')})`, `say which: --replace=${key}=OLD=NEW`);
    }
    list[list.indexOf(matches[0]!)] = r;
  }

  for (const a of e.append) list.push(a);
  // The whole KEY=VALUE decides, as in rpm-ostree: console=ttyS0 is added even when console=tty0 is there.
  for (const a of e.appendIfMissing) if (!list.includes(a)) list.push(a);
  return list;
}

async function kargs(ctx: OperationContext, s: Sysroot, req: Extract<OperationRequest, { kind: 'kargs' }>): Promise<OperationResult> {
  const d = defaultOf(ctx, s);
  const next = editKargs(d.kargs, req);
  if (next.length === d.kargs.length && next.every((k, i) => k === d.kargs[i])) {
    return { changed: false, summary: 'Kernel arguments unchanged; no deployment made' };
  }
  if (next.some((k) => keyOf(k) === 'ostree')) throw usageError("the ostree= kernel argument is OSTree's own and cannot be set");
  if (!d.origin) {
    throw new AptOstreeError(
      'invalid-config',
      `the deployment ${label(d)} has no readable origin file${d.originError ? ` (${d.originError})` : ''}`,
    );
  }
  const origin = d.origin;
  const csum = await task(ctx.progress, `Deploying ${d.checksum.slice(0, 10)} with new kernel arguments`, () =>
    writeNewDeployment(ctx, s, { osname: d.osname, commit: d.checksum, origin, kargs: next }),
  );
  return {
    changed: true,
    summary: `Kernel arguments updated (${next.join(' ') || 'none'}); ${s.booted ? 'staged' : 'new'} deployment ${csum.slice(0, 10)}`,
    deployment: csum,
    rebootRequested: req.options.reboot === true,
  };
}

// ---------------------------------------------------------------------------
// cleanup

/** Refs that apt-ostree makes as scratch during an operation; `cleanup -b` deletes them. */
export const TEMP_REF_PREFIX = 'aptostree/tmp/';

/**
 * What `cleanup` keeps and drops. What stays: the default, the booted, the
 * rollback, pinned ones; pending (staged or before the booted one) unless -p;
 * the rollback unless -r.
 */
export function cleanupPlan(
  s: Pick<Sysroot, 'deployments' | 'booted' | 'rollback'>,
  what: readonly CleanupTarget[],
): { keep: Deployment[]; dropped: Deployment[]; isPending: (d: Deployment) => boolean } {
  const bootedIndex = s.booted?.index;
  const isPending = (d: Deployment): boolean => d.staged || (bootedIndex !== undefined && d.index < bootedIndex);
  // The rollback as it stands without what is pending: on a booted system the first deployment after
  // the booted one (with a staged deployment, s.rollback is the booted one itself).
  const b = s.booted;
  const rollback = b ? s.deployments.find((d) => d.index > b.index && d.osname === b.osname) : s.rollback;
  const keep = s.deployments.filter((d) => {
    if (d.booted) return true;
    if (d.pinned) return true;
    if (isPending(d)) return !what.includes('pending');
    if (d === rollback) return !what.includes('rollback');
    return d.isDefault;
  });
  return { keep, dropped: s.deployments.filter((d) => !keep.includes(d)), isPending };
}

/**
 * The list to hand to ostree_sysroot_write_deployments: libostree keeps a
 * staged deployment only when it is the first of the new list (any other
 * position, or its absence, discards it), so a kept staged one goes first.
 */
export function cleanupWriteOrder(keep: readonly Deployment[]): Deployment[] {
  return [...keep.filter((d) => d.staged), ...keep.filter((d) => !d.staged)];
}

async function cleanup(ctx: OperationContext, s: Sysroot, what: CleanupTarget[]): Promise<OperationResult> {
  const done: string[] = [];
  const { keep, dropped, isPending } = cleanupPlan(s, what);
  const pinnedAsked = s.deployments.filter(
    (d) => d.pinned && ((what.includes('rollback') && d === s.rollback) || (what.includes('pending') && isPending(d))),
  );
  for (const p of pinnedAsked)
    ctx.progress.message(`Keeping ${label(p)}: it is pinned (unpin it with "apt-ostree pin --unpin ${p.index}")`);
  if (ctx.signal.aborted) throw new CancelledError();
  if (dropped.length > 0) {
    if (keep.length === 0) throw new AptOstreeError('internal', 'refusing to remove every deployment');
    await task(ctx.progress, `Removing ${dropped.length} deployment(s): ${dropped.map(label).join(', ')}`, () =>
      native.writeDeployments(s.path, cleanupWriteOrder(keep).map(idOf)),
    );
    done.push(`removed ${dropped.length} deployment(s)`);
  }
  if (what.includes('base')) {
    const refs = (
      await run('ostree', ['refs', `--repo=${s.repoPath}`, '--list', TEMP_REF_PREFIX.replace(/\/$/, '')], {
        errorCode: 'ostree',
        okCodes: [1],
      })
    ).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    for (const r of refs) {
      const full = r.startsWith(TEMP_REF_PREFIX) ? r : `${TEMP_REF_PREFIX}${r}`;
      await run('ostree', ['refs', `--repo=${s.repoPath}`, '--delete', full], { errorCode: 'ostree', what: `deleting the ref ${full}` });
    }
    done.push(`deleted ${refs.length} temporary ref(s)`);
    // Work directories an interrupted layering left in the repository's tmp/ (we hold the lock: nobody uses them).
    const n = cleanLeftovers(s.repoPath);
    if (n > 0) done.push(`removed ${n} leftover work director${n === 1 ? 'y' : 'ies'}`);
  }
  if (what.includes('repomd')) {
    const dir = aptCacheDir(s.path);
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    done.push('removed the package metadata cache');
  }
  await task(ctx.progress, 'Pruning unreferenced objects', () => admin.cleanup(s.path, { signal: ctx.signal }));
  done.push('pruned unreferenced objects');
  return { changed: dropped.length > 0 || what.length > 0, summary: `Cleanup: ${done.join('; ')}` };
}

// ---------------------------------------------------------------------------
// pin

async function pin(ctx: OperationContext, s: Sysroot, index: number, unpin: boolean): Promise<OperationResult> {
  const d = s.deployments[index];
  if (!Number.isInteger(index) || !d) {
    throw usageError(
      `there is no deployment ${index} (there are ${s.deployments.length}, numbered from 0)`,
      'see them with "apt-ostree status"',
    );
  }
  if (d.pinned === !unpin) return { changed: false, summary: `Deployment ${index} is already ${unpin ? 'unpinned' : 'pinned'}` };
  await admin.pin(s.path, index, unpin, { signal: ctx.signal });
  return { changed: true, summary: `Deployment ${index} (${label(d)}) is now ${unpin ? 'unpinned' : 'pinned'}` };
}
