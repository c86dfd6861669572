/**
 * The layering operations: install, uninstall, override remove/replace/reset,
 * reset, and refresh-md. Each computes a new origin from the merge
 * deployment's and hands it to the deployment pipeline
 * (../deployment/pipeline.ts), which builds and writes the new deployment;
 * the previous default stays as the rollback and no existing deployment is
 * modified.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { changeOrigin, loadMergeState } from '../deployment/pipeline';
import { AptOstreeError, notFound, usageError } from '../errors';
import type { OperationContext, OperationRequest, OperationResult } from '../operations/types';
import { hasLayering, serializeOrigin, type LocalPackageRef, type Origin } from '../origin';
import { task } from '../progress';
import { withSysrootLock, type Sysroot } from '../sysroot';
import { aptDirs, aptUpdate } from './apt';
import type { LayeringPlan } from './assemble';
import { debControl, importDeb } from './debimport';
import { readCommitPackages } from '../updates/commits';
import { nva, parsePackageArg } from './names';
import { etcEntriesFor } from './sandbox';

export type LayeringRequest = Extract<
  OperationRequest,
  { kind: 'install' | 'uninstall' | 'override-remove' | 'override-replace' | 'override-reset' | 'reset' }
>;

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
  /** Newly requested removals, which must be packages of the base. */
  mustBeInBase?: string[];
  /** Dry run: local packages not imported, by sha256 -> their file. */
  localFiles: Map<string, string>;
}

/**
 * install takes new packages: a local .deb of a package of the base (or of one
 * an override removed) is refused before anything is imported, as rpm-ostree
 * refuses a local package that is already in the base.
 */
async function refuseLocalBasePackages(ctx: OperationContext, sys: Sysroot, baseCommit: string, o: Origin, paths: string[]): Promise<void> {
  const base = new Map((await readCommitPackages(sys.repoPath, baseCommit)).packages.map((p) => [p.name, p.version]));
  for (const path of paths) {
    const name = (await debControl(path, ctx.signal)).fields.get('Package')!;
    if (o.overrideRemove.includes(name)) {
      throw new AptOstreeError(
        'usage',
        `${name} was removed from the base (override remove): ${path} cannot be installed as a new package; nothing changed`,
        {
          hint: `to use this build in place of the base's: "apt-ostree override reset ${name}", then "apt-ostree override replace ${path}" (as with rpm-ostree override reset / override replace)`,
        },
      );
    }
    const v = base.get(name);
    if (v !== undefined) {
      throw new AptOstreeError(
        'usage',
        `${name} is a package of the base (version ${v}): ${path} cannot be installed as a new package; nothing changed`,
        {
          hint: `to use this build in place of the base's, run "apt-ostree override replace ${path}" (rpm-ostree: "rpm-ostree override replace")`,
        },
      );
    }
  }
}

async function applyRequest(ctx: OperationContext, sys: Sysroot, cur: Origin, req: LayeringRequest, baseCommit?: string): Promise<Change> {
  const o = cloneOrigin(cur);
  const what: string[] = [];
  const mustNotBeInBase: string[] = [];
  const mustBeInBase: string[] = [];
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
      const localPaths = args.flatMap((a) => (a.kind === 'local' ? [a.path] : []));
      if (localPaths.length > 0 && baseCommit) await refuseLocalBasePackages(ctx, sys, baseCommit, o, localPaths);
      const locals = await importLocal(ctx, sys, localPaths, dryRunFiles);
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
        } else if (req.options.idempotent) {
          continue;
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
        mustBeInBase.push(a.name);
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
  return { origin: o, what, mustNotBeInBase, mustBeInBase, localFiles };
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
  return changeOrigin(
    ctx,
    async (st) => {
      const change = await applyRequest(ctx, st.sys, st.origin, req, st.merge.baseChecksum);
      if (serializeOrigin(change.origin) === serializeOrigin(st.origin)) {
        return { changed: false, summary: 'No change.' };
      }
      return {
        change: {
          origin: change.origin,
          base: st.merge.baseChecksum,
          cacheOnly: req.options.cacheOnly,
          dryRun: req.options.dryRun,
          mustNotBeInBase: change.mustNotBeInBase,
          mustBeInBase: change.mustBeInBase,
          localFiles: change.localFiles,
        },
        dryRunResult: (built) => {
          const lines = built.plan ? describePlan(built.plan) : [];
          for (const l of lines) ctx.progress.message(l);
          return { changed: false, summary: `Dry run: nothing deployed (${lines.length} change${lines.length === 1 ? '' : 's'} planned).` };
        },
        result: ({ checksum, staged }) => {
          const verb =
            req.kind === 'install'
              ? 'Added'
              : req.kind === 'override-replace'
                ? 'Replaced'
                : req.kind === 'override-remove'
                  ? 'Removed'
                  : 'Reset';
          const kind = hasLayering(change.origin) ? 'Layered' : 'Base';
          const when = staged ? ' (staged; reboot to use it)' : '';
          const summary = `${kind} deployment ${checksum.slice(0, 12)} written${when}. ${verb}: ${change.what.join(', ') || 'nothing'}`;
          return { changed: true, summary, deployment: checksum, rebootRequested: req.options.reboot };
        },
      };
    },
    { osname: req.options.osname },
  );
}

export async function refreshMetadata(
  ctx: OperationContext,
  req: Extract<OperationRequest, { kind: 'refresh-md' }>,
): Promise<OperationResult> {
  const force = req.options.force === true;
  return withSysrootLock(ctx.sysroot, async () => {
    const { sys, merge } = await loadMergeState(ctx);
    const tree = { root: merge.deployPath, etc: etcEntriesFor(merge.deployPath, join(merge.deployPath, 'etc')), dirs: aptDirs(sys.path) };
    // apt-get update keeps the lists the server did not change; -f sets the cached ones aside so that
    // all are downloaded again (they come back if that fails).
    const aside = force ? `${tree.dirs.lists}.old` : undefined;
    if (aside) {
      rmSync(aside, { recursive: true, force: true });
      renameSync(tree.dirs.lists, aside);
      mkdirSync(join(tree.dirs.lists, 'partial'), { recursive: true });
    }
    try {
      await task(ctx.progress, force ? 'Downloading the APT metadata again' : 'Refreshing APT metadata', () => aptUpdate(tree, ctx.signal));
    } catch (e) {
      if (aside) {
        rmSync(tree.dirs.lists, { recursive: true, force: true });
        renameSync(aside, tree.dirs.lists);
      }
      throw e;
    }
    if (aside) rmSync(aside, { recursive: true, force: true });
    return { changed: true, summary: `APT metadata of ${merge.osname} ${force ? 'downloaded again' : 'refreshed'} in ${tree.dirs.root}` };
  });
}
