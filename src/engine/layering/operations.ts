/**
 * The layering operations: install, uninstall, override remove/replace/reset,
 * reset, and refresh-md. Each changes the origin of the default deployment,
 * assembles the deployment commit for it (./assemble.ts) and writes a new
 * deployment; the previous default stays as the rollback and no existing
 * deployment is modified.
 */
import { join } from 'node:path';
import { AptOstreeError, notFound, usageError } from '../errors';
import type { OperationContext, OperationRequest, OperationResult } from '../operations/types';
import { hasLayering, serializeOrigin, type LocalPackageRef, type Origin } from '../origin';
import { task } from '../progress';
import { loadSysroot, withSysrootLock, writeNewDeployment, type Deployment, type Sysroot } from '../sysroot';
import { aptDirs, aptUpdate } from './apt';
import { buildDeploymentCommit, cleanLeftovers, type LayeringPlan } from './assemble';
import { importDeb } from './debimport';
import { nva, parsePackageArg } from './names';
import { etcEntriesFor } from './sandbox';
import { mergeUsersIntoEtc } from './users';

export type LayeringRequest = Extract<
  OperationRequest,
  { kind: 'install' | 'uninstall' | 'override-remove' | 'override-replace' | 'override-reset' | 'reset' }
>;

function mergeDeployment(sys: Sysroot, osname?: string): Deployment {
  const d = osname ? sys.deployments.find((x) => x.osname === osname) : sys.defaultDeployment;
  if (!d) {
    throw new AptOstreeError('not-found', `the sysroot ${sys.path} has no deployment${osname ? ` of ${osname}` : ''}`, {
      hint: 'deploy a tree first (apt-ostree compose sysroot, or ostree admin deploy)',
    });
  }
  if (!d.origin) {
    throw new AptOstreeError(
      'invalid-config',
      `the deployment ${d.checksum.slice(0, 12)} has no readable origin: ${d.originError ?? 'unknown'}`,
    );
  }
  return d;
}

function cloneOrigin(o: Origin): Origin {
  return {
    ...o,
    requestedPackages: [...o.requestedPackages],
    requestedLocalPackages: [...o.requestedLocalPackages],
    overrideRemove: [...o.overrideRemove],
    overrideReplaceLocal: [...o.overrideReplaceLocal],
    initramfsArgs: [...o.initramfsArgs],
  };
}

const nameOfNva = (n: string): string => n.split('_')[0]!;

/** Import local .deb files given on the command line; returns their origin references. */
async function importLocal(
  ctx: OperationContext,
  sys: Sysroot,
  paths: string[],
  dryRunFiles?: Map<string, string>,
): Promise<Array<LocalPackageRef & { name: string }>> {
  if (paths.length === 0) return [];
  const verb = dryRunFiles ? 'Reading' : 'Importing';
  return task(ctx.progress, `${verb} ${paths.length} local package${paths.length > 1 ? 's' : ''}`, async () => {
    const out: Array<LocalPackageRef & { name: string }> = [];
    for (const p of paths) {
      const imp = await importDeb(sys.repoPath, p, join(sys.repoPath, 'tmp'), {
        local: true,
        signal: ctx.signal,
        dryRun: dryRunFiles !== undefined,
      });
      // Not imported (dry run): the plan uses the file itself.
      if (dryRunFiles && imp.commit === '') dryRunFiles.set(imp.sha256!, p);
      out.push({ sha256: imp.sha256!, nva: nva(imp.name, imp.version, imp.arch), name: imp.name });
    }
    return out;
  });
}

interface Change {
  origin: Origin;
  /** Human description of the change. */
  what: string[];
  /** Newly requested names that must not be in the base. */
  mustNotBeInBase: string[];
  /** Dry run: local packages not imported, by sha256 -> their file. */
  localFiles: Map<string, string>;
}

async function applyRequest(ctx: OperationContext, sys: Sysroot, cur: Origin, req: LayeringRequest): Promise<Change> {
  const o = cloneOrigin(cur);
  const what: string[] = [];
  const mustNotBeInBase: string[] = [];
  const localFiles = new Map<string, string>();
  const dryRunFiles = 'dryRun' in req.options && req.options.dryRun ? localFiles : undefined;
  switch (req.kind) {
    case 'install': {
      if (req.packages.length === 0) throw usageError('install needs at least one package', 'e.g. apt-ostree install htop');
      const args = req.packages.map((p) => parsePackageArg(p));
      for (const a of args) {
        if (a.kind !== 'name') continue;
        if (o.requestedPackages.includes(a.name)) {
          if (req.options.idempotent) continue;
          throw new AptOstreeError('usage', `${a.name} is already requested`, { hint: 'pass --idempotent to make this a no-op' });
        }
        o.requestedPackages.push(a.name);
        if (!req.options.allowInactive) mustNotBeInBase.push(a.name);
        what.push(`${a.name}`);
      }
      const locals = await importLocal(
        ctx,
        sys,
        args.flatMap((a) => (a.kind === 'local' ? [a.path] : [])),
        dryRunFiles,
      );
      for (const l of locals) {
        if (o.requestedLocalPackages.some((x) => x.sha256 === l.sha256)) {
          if (req.options.idempotent) continue;
          throw new AptOstreeError('usage', `${l.nva} is already requested`, { hint: 'pass --idempotent to make this a no-op' });
        }
        o.requestedLocalPackages = o.requestedLocalPackages.filter((x) => nameOfNva(x.nva) !== l.name);
        o.requestedLocalPackages.push({ sha256: l.sha256, nva: l.nva });
        what.push(`${l.nva} (local)`);
      }
      break;
    }
    case 'uninstall': {
      if (req.all) {
        what.push(...o.requestedPackages, ...o.requestedLocalPackages.map((l) => l.nva));
        o.requestedPackages = [];
        o.requestedLocalPackages = [];
        break;
      }
      if (req.packages.length === 0) throw usageError('uninstall needs at least one package, or --all');
      for (const p of req.packages) {
        const a = parsePackageArg(p, false);
        if (a.kind !== 'name') continue;
        if (o.requestedPackages.includes(a.name)) {
          o.requestedPackages = o.requestedPackages.filter((x) => x !== a.name);
        } else if (o.requestedLocalPackages.some((l) => nameOfNva(l.nva) === a.name)) {
          o.requestedLocalPackages = o.requestedLocalPackages.filter((l) => nameOfNva(l.nva) !== a.name);
        } else {
          throw notFound(
            `${a.name} is not a layered package`,
            'apt-ostree status shows the layered packages; to leave out a package of the base use "apt-ostree override remove"',
          );
        }
        what.push(a.name);
      }
      break;
    }
    case 'override-remove': {
      if (req.packages.length === 0) throw usageError('override remove needs at least one package');
      for (const p of req.packages) {
        const a = parsePackageArg(p, false);
        if (a.kind !== 'name') continue;
        if (o.overrideRemove.includes(a.name)) throw usageError(`${a.name} is already removed`, 'apt-ostree override reset restores it');
        o.overrideRemove.push(a.name);
        what.push(`-${a.name}`);
      }
      break;
    }
    case 'override-replace': {
      if (req.debs.length === 0) throw usageError('override replace needs at least one .deb file');
      const paths = req.debs.map((d) => {
        const a = parsePackageArg(d);
        if (a.kind !== 'local') throw usageError(`override replace takes .deb files, not package names ("${d}")`);
        return a.path;
      });
      for (const l of await importLocal(ctx, sys, paths, dryRunFiles)) {
        o.overrideReplaceLocal = o.overrideReplaceLocal.filter((x) => nameOfNva(x.nva) !== l.name);
        o.overrideReplaceLocal.push({ sha256: l.sha256, nva: l.nva });
        what.push(`${l.nva} (replacing)`);
      }
      break;
    }
    case 'override-reset': {
      if (req.all) {
        what.push(...o.overrideRemove.map((r) => `+${r}`), ...o.overrideReplaceLocal.map((l) => nameOfNva(l.nva)));
        o.overrideRemove = [];
        o.overrideReplaceLocal = [];
        break;
      }
      if (req.packages.length === 0) throw usageError('override reset needs at least one package, or --all');
      for (const p of req.packages) {
        const a = parsePackageArg(p, false);
        if (a.kind !== 'name') continue;
        if (o.overrideRemove.includes(a.name)) o.overrideRemove = o.overrideRemove.filter((x) => x !== a.name);
        else if (o.overrideReplaceLocal.some((l) => nameOfNva(l.nva) === a.name))
          o.overrideReplaceLocal = o.overrideReplaceLocal.filter((l) => nameOfNva(l.nva) !== a.name);
        else throw notFound(`${a.name} has no override`, 'apt-ostree status shows the overrides');
        what.push(a.name);
      }
      break;
    }
    case 'reset': {
      o.requestedPackages = [];
      o.requestedLocalPackages = [];
      o.overrideRemove = [];
      o.overrideReplaceLocal = [];
      o.initramfsRegenerate = false;
      o.initramfsArgs = [];
      what.push('all layering and overrides');
      break;
    }
  }
  return { origin: o, what, mustNotBeInBase, localFiles };
}

function describePlan(plan: LayeringPlan): string[] {
  const out: string[] = [];
  for (const p of plan.install)
    out.push(`  ${p.oldVersion ? 'replace' : 'install'} ${p.name} ${p.oldVersion ? `${p.oldVersion} -> ` : ''}${p.version} ${p.arch}`);
  for (const r of plan.remove) out.push(`  remove ${r.name} ${r.version}`);
  for (const i of plan.inactive) out.push(`  inactive ${i} (provided by the base)`);
  return out;
}

export async function runLayeringOperation(ctx: OperationContext, req: LayeringRequest): Promise<OperationResult> {
  // Names are checked before anything else looks at them.
  if (req.kind === 'install') req.packages.forEach((p) => parsePackageArg(p));
  if (req.kind === 'uninstall' || req.kind === 'override-remove' || req.kind === 'override-reset')
    req.packages.forEach((p) => parsePackageArg(p, false));
  if (req.kind === 'override-replace') req.debs.forEach((p) => parsePackageArg(p));
  const sys0 = await loadSysroot(ctx.sysroot);
  return withSysrootLock(sys0.path, async () => {
    const sys = await loadSysroot(ctx.sysroot);
    cleanLeftovers(sys.repoPath);
    const dep = mergeDeployment(sys, ctx.osname ?? req.options.osname);
    const change = await applyRequest(ctx, sys, dep.origin!, req);
    if (serializeOrigin(change.origin) === serializeOrigin(dep.origin!)) {
      return { changed: false, summary: 'No change.' };
    }
    const built = await buildDeploymentCommit(ctx, {
      sysroot: sys,
      baseCommit: dep.baseChecksum,
      origin: change.origin,
      etcDir: join(dep.deployPath, 'etc'),
      cacheOnly: req.options.cacheOnly,
      dryRun: req.options.dryRun,
      mustNotBeInBase: change.mustNotBeInBase,
      localFiles: change.localFiles,
    });
    if (req.options.dryRun) {
      const lines = built.plan ? describePlan(built.plan) : [];
      for (const l of lines) ctx.progress.message(l);
      return { changed: false, summary: `Dry run: nothing deployed (${lines.length} change${lines.length === 1 ? '' : 's'} planned).` };
    }
    const checksum = await task(ctx.progress, 'Deploying', () =>
      writeNewDeployment(ctx, sys, { osname: dep.osname, commit: built.commit, origin: change.origin }),
    );
    const after = await loadSysroot(sys.path);
    const fresh = after.deployments.find((d) => d.checksum === checksum && d.osname === dep.osname && !d.staged && d.isDefault);
    if (fresh && built.layered) mergeUsersIntoEtc(fresh.deployPath);
    const verb =
      req.kind === 'install'
        ? 'Added'
        : req.kind === 'override-replace'
          ? 'Replaced'
          : req.kind === 'override-remove'
            ? 'Removed'
            : 'Reset';
    const summary = `${hasLayering(change.origin) ? 'Layered' : 'Base'} deployment ${checksum.slice(0, 12)} written${after.booted ? ' (staged; reboot to use it)' : ''}. ${verb}: ${change.what.join(', ') || 'nothing'}`;
    return { changed: true, summary, deployment: checksum, rebootRequested: req.options.reboot };
  });
}

export async function refreshMetadata(
  ctx: OperationContext,
  req: Extract<OperationRequest, { kind: 'refresh-md' }>,
): Promise<OperationResult> {
  void req;
  const sys0 = await loadSysroot(ctx.sysroot);
  return withSysrootLock(sys0.path, async () => {
    const sys = await loadSysroot(ctx.sysroot);
    const dep = mergeDeployment(sys, ctx.osname);
    const tree = { root: dep.deployPath, etc: etcEntriesFor(dep.deployPath, join(dep.deployPath, 'etc')), dirs: aptDirs(sys.path) };
    await task(ctx.progress, 'Refreshing APT metadata', () => aptUpdate(tree, ctx.signal));
    return { changed: true, summary: `APT metadata of ${dep.osname} refreshed in ${tree.dirs.root}` };
  });
}
