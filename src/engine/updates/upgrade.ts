/**
 * Following the base from its remote: upgrade (newest commit of the origin's
 * refspec, and the layered packages resolved again against fresh metadata of
 * the deployment's APT sources, so that they get their updates too), deploy (a given checksum or version, pinned in the origin as
 * override-commit), rebase (another ref, layering kept), and the initramfs
 * switch. Each fetches what it needs into the sysroot's repository and
 * hands the new origin and base to the deployment pipeline
 * (../deployment/pipeline.ts), which applies the layering again on the new
 * base and writes one new deployment; any failure before that leaves the
 * sysroot's deployments as they were.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AptOstreeError } from '../errors';
import { changeOrigin, loadMergeState, type Deployed, type MergeState } from '../deployment/pipeline';
import { revParse } from '../ostree/repo';
import type { OperationContext, OperationResult, UpgradeOptions } from '../operations/types';
import { splitRefspec } from '../origin';
import { task } from '../progress';
import { withSysrootLock, type Sysroot } from '../sysroot';
import { buildDeploymentCommit } from '../layering/assemble';
import { aptDirs, aptUpdate, type PlanEntry } from '../layering/apt';
import { importedFromRef } from '../layering/debimport';
import { packageRef } from '../layering/names';
import { etcEntriesFor } from '../layering/sandbox';
import { META_LAYERED_ALL, parsePackageList, type PackageRecord } from '../ostree/metadata';
import { readCommitMetadataString } from '../ostree/repo';
import { readCommit, readCommitPackages, type CommitSummary } from './commits';
import { diffPackages, formatDiff, isEmptyDiff, type PackageDiff } from './pkgdiff';
import { pull, validateRefName, validateRemoteName } from './remote';
import {
  readAutomaticState,
  securityFixesIn,
  securityUpdatesOf,
  writeAutomaticState,
  type AvailableUpdate,
  type LayeredUpdate,
} from './state';

// ---------------------------------------------------------------------------
// Shared steps

function isPartial(repo: string, checksum: string): boolean {
  return existsSync(join(repo, 'state', `${checksum}.commitpartial`));
}

/** Is the commit's content (not just its commit object) in the repo? */
export function haveCompleteCommit(repo: string, checksum: string): boolean {
  const obj = join(repo, 'objects', checksum.slice(0, 2), `${checksum.slice(2)}.commit`);
  return existsSync(obj) && !isPartial(repo, checksum);
}

/**
 * The commit a refspec points to, after fetching its commit object from the
 * remote (metadata only, or with content). Local refs (no remote) are read
 * from the sysroot's repository.
 */
async function fetchRefspec(
  ctx: OperationContext,
  sys: Sysroot,
  refspec: string,
  how: { content: boolean; cacheOnly?: boolean },
): Promise<string> {
  const { remote, ref } = splitRefspec(refspec);
  validateRefName(ref);
  if (remote !== undefined && remote !== '') {
    validateRemoteName(remote);
    if (!how.cacheOnly) {
      await task(ctx.progress, how.content ? `Pulling ${refspec}` : `Fetching the commit of ${refspec}`, () =>
        pull(ctx, sys.repoPath, remote, ref, { commitMetadataOnly: !how.content }),
      );
    }
  }
  const csum = await revParse(sys.repoPath, remote ? `${remote}:${ref}` : ref);
  if (!csum) {
    throw new AptOstreeError('not-found', `ref "${refspec}" is not in the sysroot's repository ${sys.repoPath}`, {
      hint: how.cacheOnly
        ? 'run without --cache-only to fetch it from its remote'
        : 'check the ref name ("ostree refs --repo=SYSROOT/ostree/repo" lists the local ones)',
    });
  }
  return csum;
}

/** Fetch the content of `checksum` from `remote` unless the repo has it all. */
async function fetchContent(
  ctx: OperationContext,
  sys: Sysroot,
  remote: string | undefined,
  checksum: string,
  cacheOnly?: boolean,
  refspec?: string,
): Promise<void> {
  if (haveCompleteCommit(sys.repoPath, checksum)) return;
  if (!remote || cacheOnly) {
    throw new AptOstreeError('not-found', `commit ${checksum} is not (completely) in the sysroot's repository ${sys.repoPath}`, {
      hint: cacheOnly ? 'run without --cache-only to download it' : 'its refspec has no remote to download it from',
    });
  }
  await task(ctx.progress, `Pulling ${checksum.slice(0, 12)} from ${remote}`, () =>
    pull(ctx, sys.repoPath, remote, checksum, { label: refspec ? `${splitRefspec(refspec).ref} (commit ${checksum})` : undefined }),
  );
}

/** Is `target` older than `current` (a downgrade)? By timestamp, and by ancestry when they tie. */
export async function isDowngrade(repo: string, current: CommitSummary, target: CommitSummary): Promise<boolean> {
  if (target.checksum === current.checksum) return false;
  if (target.timestamp !== current.timestamp) return target.timestamp < current.timestamp;
  let c: CommitSummary | undefined = current;
  for (let i = 0; c?.parent && i < 1000; i++) {
    if (c.parent === target.checksum) return true;
    c = await readCommit(repo, c.parent).catch(() => undefined);
  }
  return false;
}

export function formatTimestamp(t: number): string {
  return new Date(t * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const short = (c: string): string => c.slice(0, 12);
const versionOf = (c: CommitSummary): string => (c.version ? ` (version ${c.version})` : '');
/** "3f2a1b0c9d8e (version 2.0) of 2024-05-01T10:00:00Z" */
const describeCommit = (c: CommitSummary): string => `${short(c.checksum)}${versionOf(c)} of ${formatTimestamp(c.timestamp)}`;

function diffCounts(d: PackageDiff): string {
  const parts: string[] = [];
  if (d.upgraded.length) parts.push(`${d.upgraded.length} upgraded`);
  if (d.downgraded.length) parts.push(`${d.downgraded.length} downgraded`);
  if (d.removed.length) parts.push(`${d.removed.length} removed`);
  if (d.added.length) parts.push(`${d.added.length} added`);
  return parts.length ? parts.join(', ') : 'no package changes';
}

async function baseDiff(repo: string, from: string, to: string): Promise<PackageDiff | undefined> {
  try {
    const [a, b] = await Promise.all([readCommitPackages(repo, from), readCommitPackages(repo, to)]);
    return diffPackages(a.packages, b.packages);
  } catch {
    return undefined;
  }
}

function deployedSummary(d: Deployed, target: CommitSummary, extra: string): string {
  const deployed = d.checksum;
  const how = d.staged ? 'Staged deployment' : 'Deployed';
  const v = target.version ? ` (version ${target.version})` : '';
  const on = deployed === target.checksum ? '' : ` (layered on base ${short(target.checksum)})`;
  return `${how} ${short(deployed)}${v}${on}${extra ? `\n${extra}` : ''}`;
}

// ---------------------------------------------------------------------------
// Upgrade

export interface UpdateCheck {
  /** A new base, or a layered package that would change. */
  available: boolean;
  /** The refspec has a base other than the current one. */
  baseAvailable: boolean;
  /** Layered packages (and what they pulled in) that re-resolving them against fresh APT metadata changes. */
  layered: LayeredUpdate[];
  /** The newest commit of the refspec, when it differs from the current base. */
  commit?: string;
  version?: string;
  /** Seconds since the epoch. */
  timestamp?: number;
  /** Base package changes (when the package lists are readable). */
  diff?: PackageDiff;
  /** The remote's commit is older than the current base. */
  downgrade: boolean;
  refspec: string;
  current: CommitSummary;
}

/** The layered packages of a deployment commit (none for a base commit). */
async function layeredOf(repo: string, commit: string): Promise<PackageRecord[]> {
  const raw = await readCommitMetadataString(repo, commit, META_LAYERED_ALL).catch(() => undefined);
  return raw ? parsePackageList(raw, `commit ${commit}`) : [];
}

/**
 * What re-resolving the requested packages against the APT metadata (fresh
 * unless cacheOnly, refreshed as refresh-md does) would change among the
 * layered packages of the merge deployment. Resolved on `base` when its
 * content is here, else on the current base (a check downloads no content).
 */
async function layeredChanges(ctx: OperationContext, st: MergeState, base: string, cacheOnly?: boolean): Promise<LayeredUpdate[]> {
  if (st.origin.requestedPackages.length === 0) return [];
  const etcDir = join(st.merge.deployPath, 'etc');
  if (!cacheOnly) {
    const tree = { root: st.merge.deployPath, etc: etcEntriesFor(st.merge.deployPath, etcDir), dirs: aptDirs(st.sys.path) };
    await task(ctx.progress, 'Refreshing APT metadata', () => aptUpdate(tree, ctx.signal));
  }
  const on = haveCompleteCommit(st.sys.repoPath, base) ? base : st.merge.baseChecksum;
  const build = await buildDeploymentCommit(ctx, { sysroot: st.sys, baseCommit: on, origin: st.origin, etcDir, cacheOnly, dryRun: true });
  const basePkgs = new Set((await readCommitPackages(st.sys.repoPath, on).catch(() => ({ packages: [] }))).packages.map((p) => p.name));
  const next = (build.plan?.install ?? []).filter((p) => !basePkgs.has(p.name));
  const now = await layeredOf(st.sys.repoPath, st.merge.checksum);
  const out: LayeredUpdate[] = [];
  const nowBy = new Map(now.map((p) => [p.name, p]));
  for (const p of next) {
    const was = nowBy.get(p.name);
    if (was && was.version === p.version && !(await rebuiltInArchive(st.sys.repoPath, p))) continue;
    out.push({ name: p.name, arch: p.arch, from: was?.version ?? null, to: p.version, security: !!p.security });
  }
  const nextNames = new Set(next.map((p) => p.name));
  for (const p of now) if (!nextNames.has(p.name)) out.push({ name: p.name, arch: p.arch, from: p.version, to: null, security: false });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The archive's index names another checksum for this version than the one imported: it was rebuilt. */
async function rebuiltInArchive(repo: string, p: PlanEntry): Promise<boolean> {
  if (!p.sha256) return false;
  const imp = await importedFromRef(repo, packageRef(p.name, p.version, p.arch));
  return imp !== undefined && imp.sha256 !== p.sha256;
}

const describeLayered = (c: LayeredUpdate): string =>
  `${c.name} ${c.from ?? '(new)'} -> ${c.to ?? '(removed)'}${c.security ? ' (security)' : ''}`;

async function checkLocked(
  ctx: OperationContext,
  st: MergeState,
  opts: { cacheOnly?: boolean },
): Promise<UpdateCheck & { target: CommitSummary }> {
  const refspec = st.origin.refspec;
  const csum = await fetchRefspec(ctx, st.sys, refspec, { content: false, cacheOnly: opts.cacheOnly });
  const current = await readCommit(st.sys.repoPath, st.merge.baseChecksum);
  const target = await readCommit(st.sys.repoPath, csum);
  const pinned = st.origin.overrideCommit !== undefined;
  const changed = target.checksum !== current.checksum || pinned;
  const downgrade = await isDowngrade(st.sys.repoPath, current, target);
  const diff = changed ? await baseDiff(st.sys.repoPath, current.checksum, target.checksum) : undefined;
  const layered = await layeredChanges(ctx, st, target.checksum, opts.cacheOnly);
  return {
    available: changed || layered.length > 0,
    baseAvailable: changed,
    layered,
    commit: changed ? target.checksum : undefined,
    version: changed ? target.version : undefined,
    timestamp: changed ? target.timestamp : undefined,
    diff,
    downgrade,
    refspec,
    current,
    target,
  };
}

/**
 * Whether the origin's refspec has a newer base than the current one, from
 * its commit object only (no content is downloaded). For automatic updates.
 */
export async function checkForUpdate(ctx: OperationContext, opts: { cacheOnly?: boolean } = {}): Promise<UpdateCheck> {
  return withSysrootLock(ctx.sysroot, async () => {
    const st = await loadMergeState(ctx);
    const { target: _t, ...r } = await checkLocked(ctx, st, opts);
    void _t;
    return r;
  });
}

/** Download and deploy the update (no reboot). For automatic updates: the same as `upgrade`. */
export async function stageUpdate(
  ctx: OperationContext,
  opts: UpgradeOptions = {},
  how: { keepBase?: boolean } = {},
): Promise<OperationResult> {
  return runUpgrade(ctx, { ...opts, check: false, preview: false }, how);
}

function describeCheck(c: UpdateCheck, preview: boolean): string {
  if (!c.available) return 'No upgrade available.';
  const lines: string[] = [];
  if (c.baseAvailable && c.commit !== undefined) {
    lines.push('AvailableUpdate:');
    const date = c.timestamp !== undefined ? ` (${formatTimestamp(c.timestamp)})` : '';
    lines.push(`  Version: ${c.version ?? '(none)'}${date}`);
    lines.push(`   Commit: ${c.commit}`);
    if (c.downgrade) lines.push('     Note: older than the current base (a downgrade; needs --allow-downgrade)');
    if (c.diff) {
      lines.push(`     Diff: ${diffCounts(c.diff)}`);
      if (preview && !isEmptyDiff(c.diff))
        lines.push(
          ...formatDiff(c.diff)
            .split('\n')
            .map((l) => `  ${l}`),
        );
    }
  } else {
    lines.push('Base: no new base.');
  }
  if (c.layered.length > 0) {
    const sec = c.layered.filter((l) => l.security).length;
    lines.push(`LayeredUpdates: ${c.layered.length} package(s)${sec > 0 ? `, ${sec} from security archives` : ''}`);
    for (const l of c.layered) lines.push(`  ${describeLayered(l)}`);
  }
  return lines.join('\n');
}

/** Remember what a check found, for `status` (the cached update); none clears it. */
async function recordCheck(sysroot: string, c: UpdateCheck): Promise<void> {
  const securityFixes =
    c.baseAvailable && c.commit !== undefined && c.diff ? securityFixesIn(c.diff, await securityUpdatesOf(sysroot, c.commit)) : [];
  const state = readAutomaticState(sysroot);
  if (!c.available || (c.baseAvailable && c.downgrade)) state.availableUpdate = undefined;
  else {
    const u: AvailableUpdate = {
      commit: c.baseAvailable && c.commit ? c.commit : c.current.checksum,
      version: c.baseAvailable ? c.version : c.current.version,
      timestamp: (c.baseAvailable ? c.timestamp : undefined) ?? c.current.timestamp,
      diff: c.diff ?? { added: [], removed: [], upgraded: [], downgraded: [] },
      securityFixes,
      layered: c.layered,
      checked: new Date().toISOString(),
    };
    state.availableUpdate = u;
  }
  writeAutomaticState(sysroot, state);
}

export async function runUpgrade(ctx: OperationContext, opts: UpgradeOptions, how: { keepBase?: boolean } = {}): Promise<OperationResult> {
  return changeOrigin(
    ctx,
    async (st) => {
      const c = await checkLocked(ctx, st, { cacheOnly: opts.cacheOnly });
      if (opts.check || opts.preview) {
        await recordCheck(ctx.sysroot, c);
        const changed = c.layered.length > 0 || (c.baseAvailable && (!c.downgrade || !!opts.allowDowngrade));
        return { changed, summary: describeCheck(c, !!opts.preview) };
      }
      const takeBase = c.baseAvailable && !how.keepBase;
      if (!takeBase && c.layered.length === 0) return { changed: false, summary: 'No upgrade available.' };
      const layeredText = c.layered.length > 0 ? `Layered packages:\n${c.layered.map((l) => `  ${describeLayered(l)}`).join('\n')}` : '';
      const done = (): void => {
        const state = readAutomaticState(ctx.sysroot);
        if (state.availableUpdate) {
          state.availableUpdate = undefined;
          writeAutomaticState(ctx.sysroot, state);
        }
      };
      if (!takeBase) {
        // Same base: the layered packages are resolved again on it (the pipeline's build takes the new versions).
        if (opts.downloadOnly || opts.dryRun) return { changed: false, summary: describeCheck({ ...c, baseAvailable: false }, true) };
        return {
          change: { origin: st.origin, base: st.merge.baseChecksum, cacheOnly: opts.cacheOnly },
          result: (d) => {
            done();
            return {
              changed: true,
              deployment: d.checksum,
              rebootRequested: !!opts.reboot,
              summary: `${d.staged ? 'Staged deployment' : 'Deployed'} ${short(d.checksum)} (same base ${short(st.merge.baseChecksum)})\n${layeredText}`,
            };
          },
        };
      }
      const target = c.target;
      if (c.downgrade && !opts.allowDowngrade) {
        throw new AptOstreeError(
          'usage',
          `the remote's ${c.refspec} is ${describeCommit(target)}, older than the current base ${describeCommit(c.current)}: ` +
            'refusing to downgrade; nothing was deployed',
          { hint: 'pass --allow-downgrade to deploy it anyway' },
        );
      }
      const { remote } = splitRefspec(c.refspec);
      await fetchContent(ctx, st.sys, remote, target.checksum, opts.cacheOnly, c.refspec);
      if (opts.downloadOnly) {
        return {
          changed: false,
          summary: `Downloaded ${short(target.checksum)}${versionOf(target)}; not deployed (--download-only).`,
        };
      }
      if (opts.dryRun) return { changed: false, summary: describeCheck(c, true) };
      return {
        change: { origin: { ...st.origin, overrideCommit: undefined }, base: target.checksum, cacheOnly: opts.cacheOnly },
        result: (d) => {
          done();
          const text = [c.diff ? formatDiff(c.diff) : '', layeredText].filter((t) => t !== '').join('\n');
          return {
            changed: true,
            deployment: d.checksum,
            rebootRequested: !!opts.reboot,
            summary: deployedSummary(d, target, text),
          };
        },
      };
    },
    { osname: opts.osname },
  );
}

// ---------------------------------------------------------------------------
// Deploy a given revision

export type RevisionSpec = { checksum: string } | { version: string };

export function parseRevision(revision: string): RevisionSpec {
  const r = revision.trim();
  if (/^[0-9a-f]{64}$/.test(r)) return { checksum: r };
  const m = /^version=(.+)$/.exec(r);
  if (m && !/[\n\0]/.test(m[1]!)) return { version: m[1]! };
  if (r.startsWith('revision=') && /^[0-9a-f]{64}$/.test(r.slice(9))) return { checksum: r.slice(9) };
  throw new AptOstreeError('usage', `"${revision}" is not a revision`, {
    hint: 'give a full commit checksum (64 hex digits) or version=VERSION',
  });
}

/** Find the commit whose `version` is `version` in the history of `head`. */
async function findVersion(repo: string, head: string, version: string): Promise<string | undefined> {
  let c: CommitSummary | undefined = await readCommit(repo, head);
  for (let i = 0; c && i < 100000; i++) {
    if (c.version === version) return c.checksum;
    if (!c.parent) return undefined;
    c = await readCommit(repo, c.parent).catch(() => undefined);
  }
  return undefined;
}

/**
 * Refuse a checksum that is not in the history of the origin's ref (as
 * rpm-ostree does unless --skip-branch-check): the history's commit objects
 * are fetched first (metadata only).
 */
async function checkInHistory(ctx: OperationContext, st: MergeState, checksum: string, cacheOnly?: boolean): Promise<void> {
  const { remote, ref } = splitRefspec(st.origin.refspec);
  if (remote && !cacheOnly) {
    validateRemoteName(remote);
    await task(ctx.progress, `Fetching the history of ${st.origin.refspec}`, () =>
      pull(ctx, st.sys.repoPath, remote, ref, { commitMetadataOnly: true, depth: -1 }),
    );
  }
  const head = await revParse(st.sys.repoPath, st.origin.refspec);
  let c: CommitSummary | undefined = head ? await readCommit(st.sys.repoPath, head).catch(() => undefined) : undefined;
  for (let i = 0; c && i < 100000; i++) {
    if (c.checksum === checksum) return;
    if (!c.parent) break;
    c = await readCommit(st.sys.repoPath, c.parent).catch(() => undefined);
  }
  throw new AptOstreeError('not-found', `Checksum ${checksum} not found in ${st.origin.refspec}; nothing was deployed`, {
    hint: `deploy takes commits of the deployment's own ref; to follow another ref use "apt-ostree rebase REMOTE:REF", or pass --skip-branch-check to deploy this commit anyway${cacheOnly ? ' (with --cache-only only the history already downloaded is searched)' : ''}`,
  });
}

export async function runDeploy(ctx: OperationContext, revision: string, opts: UpgradeOptions): Promise<OperationResult> {
  const spec = parseRevision(revision);
  return changeOrigin(
    ctx,
    async (st) => {
      const { remote, ref } = splitRefspec(st.origin.refspec);
      let checksum: string;
      if ('version' in spec) {
        if (remote && !opts.cacheOnly) {
          validateRemoteName(remote);
          await task(ctx.progress, `Fetching the history of ${st.origin.refspec}`, () =>
            pull(ctx, st.sys.repoPath, remote, ref, { commitMetadataOnly: true, depth: -1 }),
          );
        }
        const head = await revParse(st.sys.repoPath, st.origin.refspec);
        const found = head ? await findVersion(st.sys.repoPath, head, spec.version) : undefined;
        if (!found) {
          throw new AptOstreeError(
            'not-found',
            `version ${spec.version} was not found in the history of ${st.origin.refspec}; nothing was deployed`,
            {
              hint: `the versions of a ref are listed by "ostree log --repo=SYSROOT/ostree/repo ${st.origin.refspec}" (after a pull)`,
            },
          );
        }
        checksum = found;
      } else {
        checksum = spec.checksum;
        if (!opts.skipBranchCheck) await checkInHistory(ctx, st, checksum, opts.cacheOnly);
      }
      await fetchContent(ctx, st.sys, remote, checksum, opts.cacheOnly, st.origin.refspec);
      const target = await readCommit(st.sys.repoPath, checksum);
      // Already the merge deployment's base: deploy would change nothing else of the origin's requests.
      if (target.checksum === st.merge.baseChecksum) return { changed: false, summary: 'No change.' };
      if (opts.dryRun) return { changed: false, summary: `Would deploy ${checksum}` };
      const diff = await baseDiff(st.sys.repoPath, st.merge.baseChecksum, checksum);
      return {
        change: { origin: { ...st.origin, overrideCommit: checksum }, base: checksum, cacheOnly: opts.cacheOnly },
        result: (d) => ({
          changed: true,
          deployment: d.checksum,
          rebootRequested: !!opts.reboot,
          summary: deployedSummary(d, target, diff ? formatDiff(diff) : ''),
        }),
      };
    },
    { osname: opts.osname },
  );
}

// ---------------------------------------------------------------------------
// Rebase

/** The new refspec of `rebase ARG` given the current one: REF keeps the remote, REMOTE: keeps the ref. */
export function rebaseTarget(current: string, arg: string): string {
  const cur = splitRefspec(current);
  const a = arg.trim();
  if (a === '') throw new AptOstreeError('usage', 'rebase needs a ref: [REMOTE:]REF');
  const i = a.indexOf(':');
  let remote: string | undefined;
  let ref: string;
  if (i < 0) {
    remote = cur.remote;
    ref = a;
  } else {
    remote = a.slice(0, i) || undefined;
    ref = a.slice(i + 1) || cur.ref;
  }
  if (remote !== undefined) validateRemoteName(remote);
  validateRefName(ref);
  return remote ? `${remote}:${ref}` : ref;
}

export async function runRebase(ctx: OperationContext, arg: string, opts: UpgradeOptions): Promise<OperationResult> {
  return changeOrigin(
    ctx,
    async (st) => {
      const refspec = rebaseTarget(st.origin.refspec, arg);
      const csum = await fetchRefspec(ctx, st.sys, refspec, { content: true, cacheOnly: opts.cacheOnly });
      const { remote } = splitRefspec(refspec);
      await fetchContent(ctx, st.sys, remote, csum, opts.cacheOnly, refspec);
      const target = await readCommit(st.sys.repoPath, csum);
      if (refspec === st.origin.refspec && csum === st.merge.baseChecksum && !st.origin.overrideCommit) {
        return { changed: false, summary: `Already on ${refspec} at ${short(csum)}; nothing to do.` };
      }
      if (opts.dryRun) return { changed: false, summary: `Would rebase to ${refspec} (${csum})` };
      const diff = await baseDiff(st.sys.repoPath, st.merge.baseChecksum, csum);
      return {
        change: { origin: { ...st.origin, refspec, overrideCommit: undefined }, base: csum, cacheOnly: opts.cacheOnly },
        result: (d) => ({
          changed: true,
          deployment: d.checksum,
          rebootRequested: !!opts.reboot,
          summary: `Rebased to ${refspec}\n${deployedSummary(d, target, diff ? formatDiff(diff) : '')}`,
        }),
      };
    },
    { osname: opts.osname },
  );
}

// ---------------------------------------------------------------------------
// Initramfs

export async function runInitramfs(
  ctx: OperationContext,
  enable: boolean,
  args: readonly string[],
  opts: { reboot?: boolean },
): Promise<OperationResult> {
  for (const a of args) {
    if (a === '' || /[\n\0]/.test(a)) throw new AptOstreeError('usage', `invalid dracut argument ${JSON.stringify(a)}`);
  }
  if (!enable && args.length > 0) throw new AptOstreeError('usage', '--arg only goes with --enable');
  return changeOrigin(ctx, async (st) => {
    const o = st.origin;
    if (!enable && !o.initramfsRegenerate) {
      throw new AptOstreeError('no-change', 'initramfs regeneration is not enabled; nothing to do', {
        hint: 'enable it with "apt-ostree initramfs --enable"',
      });
    }
    if (enable && o.initramfsRegenerate && o.initramfsArgs.join('\0') === args.join('\0')) {
      return { changed: false, summary: 'Initramfs regeneration is already enabled with these arguments; nothing to do.' };
    }
    const what = enable
      ? `Initramfs regeneration enabled${args.length ? ` (dracut ${args.join(' ')})` : ''}`
      : "Initramfs regeneration disabled (the base's initramfs is used)";
    return {
      change: { origin: { ...o, initramfsRegenerate: enable, initramfsArgs: enable ? [...args] : [] }, base: st.merge.baseChecksum },
      result: (d) => ({
        changed: true,
        deployment: d.checksum,
        rebootRequested: !!opts.reboot,
        summary: `${what}\n${d.staged ? 'Staged deployment' : 'Deployed'} ${short(d.checksum)}`,
      }),
    };
  });
}
