/**
 * The one flow of every change of a deployment's origin (install, uninstall,
 * override remove/replace/reset, reset, initramfs, deploy, rebase, upgrade):
 *
 *  1. choose the merge deployment (the rule below), under the sysroot lock;
 *  2. the operation computes the new origin and the base commit to build on
 *     (or answers without deploying: no change, check only, download only);
 *  3. build the tree: the base commit itself, or a client-layered commit
 *     when the origin asks for packages, overrides or an initramfs;
 *  4. write the new deployment: staged on a booted system, written directly
 *     otherwise; the previous default stays as the rollback;
 *  5. the operation's result.
 *
 * The merge deployment, as rpm-ostree's: the first deployment of the
 * stateroot in boot order. On a booted system that is the pending one when a
 * change is already queued (so that changes accumulate until the reboot),
 * otherwise the booted one; on a sysroot that is not booted, the default
 * deployment of the stateroot. The stateroot is the one asked for, else the
 * booted deployment's, else the default deployment's.
 */
import { join } from 'node:path';
import { AptOstreeError } from '../errors';
import { buildDeploymentCommit, cleanLeftovers, type BuildResult } from '../layering/assemble';
import { mergeUsersIntoEtc } from '../layering/users';
import type { OperationContext, OperationResult } from '../operations/types';
import type { Origin } from '../origin';
import { task } from '../progress';
import { loadSysroot, withSysrootLock, writeNewDeployment, type Deployment, type Sysroot } from '../sysroot';

export interface MergeState {
  sys: Sysroot;
  /** The stateroot the new deployment goes into. */
  osname: string;
  /** The deployment whose origin and /etc the new one starts from. */
  merge: Deployment;
  /** The merge deployment's origin. */
  origin: Origin;
}

/** The merge deployment of `sys` for the stateroot `osname` (default: the booted one's, else the default one's). */
export function chooseMergeDeployment(sys: Sysroot, osname?: string): Deployment {
  const stateroot = osname ?? sys.booted?.osname ?? sys.defaultDeployment?.osname;
  const merge = stateroot === undefined ? undefined : sys.deployments.find((d) => d.osname === stateroot);
  if (!merge) {
    throw new AptOstreeError('not-found', `the sysroot ${sys.path} has no deployment${osname ? ` of the stateroot ${osname}` : ''}`, {
      hint: 'deploy a tree first ("apt-ostree compose sysroot", or "ostree admin deploy")',
    });
  }
  return merge;
}

/** The merge deployment with its origin; an error when the origin file cannot be used. */
export function mergeStateOf(sys: Sysroot, osname?: string): MergeState {
  const merge = chooseMergeDeployment(sys, osname);
  if (!merge.origin) {
    throw new AptOstreeError(
      'invalid-config',
      `the deployment ${merge.checksum.slice(0, 12)}.${merge.serial} of ${merge.osname} has no usable origin: ` +
        (merge.originError ?? 'unknown'),
      { hint: `fix its origin file ${merge.originPath}` },
    );
  }
  return { sys, osname: merge.osname, merge, origin: merge.origin };
}

/** Load the sysroot of `ctx` and its merge state (read only; the caller holds the lock when it must). */
export async function loadMergeState(ctx: OperationContext, osname?: string): Promise<MergeState> {
  return mergeStateOf(await loadSysroot(ctx.sysroot), osname ?? ctx.osname);
}

/** What an operation asks the pipeline to deploy. */
export interface OriginChange {
  /** The new origin. */
  origin: Origin;
  /** The base commit to build on (its content in the sysroot's repository). */
  base: string;
  cacheOnly?: boolean;
  /** Resolve only: nothing is built or written. */
  dryRun?: boolean;
  /** Newly requested package names that must not be in the base. */
  mustNotBeInBase?: string[];
  /** Newly requested removals: these must be packages of the base. */
  mustBeInBase?: string[];
  /** Dry run: local packages used from their files (not imported), by sha256. */
  localFiles?: Map<string, string>;
}

/** What the pipeline made. */
export interface Deployed {
  /** Checksum of the commit deployed (the base, or the client-layered commit). */
  checksum: string;
  build: BuildResult;
  /** True on a booted system: the deployment is used at the next boot. */
  staged: boolean;
}

/** An operation's part of the flow: the change, and the result once it is deployed. */
export interface OriginStep {
  change: OriginChange;
  result(d: Deployed): OperationResult;
  /** The result of a dry run (after resolution); default: "nothing deployed". */
  dryRunResult?(build: BuildResult): OperationResult;
}

/**
 * Run one change of the origin: `plan` gets the merge state and returns the
 * change to deploy, or a result when there is nothing to deploy.
 */
export async function changeOrigin(
  ctx: OperationContext,
  plan: (st: MergeState) => Promise<OriginStep | OperationResult>,
  opts: { osname?: string } = {},
): Promise<OperationResult> {
  return withSysrootLock(ctx.sysroot, async () => {
    const sys = await loadSysroot(ctx.sysroot);
    cleanLeftovers(sys.repoPath);
    const st = mergeStateOf(sys, ctx.osname ?? opts.osname);
    const step = await plan(st);
    if (!('change' in step)) return step;
    const { change } = step;
    const build = await buildDeploymentCommit(ctx, {
      sysroot: sys,
      baseCommit: change.base,
      origin: change.origin,
      etcDir: join(st.merge.deployPath, 'etc'),
      cacheOnly: change.cacheOnly,
      dryRun: change.dryRun,
      mustNotBeInBase: change.mustNotBeInBase,
      mustBeInBase: change.mustBeInBase,
      localFiles: change.localFiles,
    });
    if (change.dryRun) return step.dryRunResult ? step.dryRunResult(build) : { changed: false, summary: 'Dry run: nothing deployed.' };
    const checksum = await task(ctx.progress, 'Writing the deployment', () =>
      writeNewDeployment(ctx, sys, { osname: st.osname, commit: build.commit, origin: change.origin }),
    );
    const staged = sys.booted !== undefined;
    if (build.layered && !staged) {
      // Users that layered packages add go into the /etc of the deployment just written (a staged one has none yet).
      const after = await loadSysroot(sys.path);
      const fresh = after.deployments.find((d) => d.checksum === checksum && d.osname === st.osname && !d.staged && d.isDefault);
      if (fresh) mergeUsersIntoEtc(fresh.deployPath);
    }
    return step.result({ checksum, build, staged });
  });
}
