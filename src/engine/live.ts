/**
 * Changes without a reboot, as rpm-ostree's apply-live and usroverlay.
 *
 * apply-live: the first time, OSTree's own `ostree admin unlock --transient`
 * puts an overlayfs on the running /usr, mounted read-only for everyone.
 * The difference between the commit that is live (the booted one, or the
 * last one applied) and the target (the pending deployment, or --target) is
 * computed by `ostree diff`, and written into the overlay from a private
 * mount namespace in which /usr is remounted writable (the rest of the
 * system keeps seeing it read-only). New files of the target's default /etc
 * (/usr/etc) that the running /etc lacks are copied there. Then systemd
 * reads its units again, and systemd-sysusers and systemd-tmpfiles run for
 * the configuration that came live. The state (commit, files) is recorded
 * in /run/apt-ostree/live (./live-state.ts), which status shows.
 *
 * usroverlay: `ostree admin unlock` (development, --hotfix or --transient).
 */
import { existsSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AptOstreeError, CancelledError, notFound, usageError } from './errors';
import { run } from './exec';
import { readLiveState, writeLiveState, type LiveState } from './live-state';
import { log } from './log';
import { META_BASE_CHECKSUM, META_CLIENT_LAYER } from './ostree/metadata';
import * as admin from './ostree/admin';
import { commitInfo } from './ostree/native';
import { checkoutHardlinks, revParse } from './ostree/repo';
import type { OperationContext, OperationRequest, OperationResult } from './operations/types';
import { task } from './progress';
import { loadSysroot, withSysrootLock, type Deployment, type Sysroot } from './sysroot';
import { runLayeringOperation } from './layering/operations';

export type ApplyLiveRequest = Extract<OperationRequest, { kind: 'apply-live' }>;
export type UsrOverlayRequest = Extract<OperationRequest, { kind: 'usroverlay' }>;

/**
 * Paths of /usr that change with every package operation: the package database, and the tmpfiles.d and
 * sysusers.d snippets layering writes for all layered packages together (which only grow on an install).
 * Their change is not a replacement of the system's files.
 */
const BOOKKEEPING = [
  '/usr/share/dpkg/database/',
  '/usr/share/debconf/cache/',
  '/usr/lib/tmpfiles.d/apt-ostree-layered.conf',
  '/usr/lib/sysusers.d/apt-ostree-layered.conf',
];
/** How many files a refusal names. */
const NAMED = 8;

/** The booted deployment of the running system; a clear error on anything else. */
export function requireBootedSystem(sys: Sysroot, what: string): Deployment {
  const booted = sys.booted;
  if (resolve(sys.path) !== '/' || !booted) {
    const why =
      resolve(sys.path) === '/'
        ? 'the system was not booted from an OSTree deployment'
        : `${sys.path} is a sysroot directory, not the running system`;
    throw new AptOstreeError('usage', `${what}: live changes need the booted system, and ${why}; nothing changed`, {
      hint: `run it on a system booted from OSTree, without --sysroot (a change for the next boot needs no ${what})`,
    });
  }
  return booted;
}

/** usroverlay on a deployment unlocked already: say in which state (checked before anything else). */
function refuseUnlocked(d: Deployment | undefined): void {
  const state = d?.unlocked ?? 'none';
  if (state === 'none') return;
  throw usageError(
    `usroverlay: the booted deployment is already unlocked (${state}); nothing changed`,
    state === 'transient'
      ? 'its /usr overlay is the transient one apply-live uses; reboot to lock it again'
      : state === 'hotfix'
        ? 'a hotfix stays until another deployment boots'
        : '/usr is writable already; reboot to lock it again',
  );
}

/** A command run in the mount namespace of PID 1 when ours is another (a daemon with ProtectHome= has its own). */
function hostNamespacePrefix(): string[] {
  try {
    if (readlinkSync('/proc/self/ns/mnt') !== readlinkSync('/proc/1/ns/mnt')) return ['nsenter', '--mount=/proc/1/ns/mnt', '--'];
  } catch {
    /* no /proc/1 to compare with: run it here */
  }
  return [];
}

export interface DiffEntry {
  kind: 'A' | 'M' | 'D';
  path: string;
}

/** `ostree diff` of two commits (every added path is listed, directories and what they hold). */
export async function diffCommits(repo: string, from: string, to: string, signal?: AbortSignal): Promise<DiffEntry[]> {
  if (from === to) return [];
  const r = await run('ostree', ['diff', `--repo=${repo}`, from, to], {
    errorCode: 'ostree',
    what: `comparing ${from.slice(0, 12)} with ${to.slice(0, 12)}`,
    signal,
  });
  const out: DiffEntry[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([AMD])\s+(\/.*)$/.exec(line);
    if (m) out.push({ kind: m[1] as DiffEntry['kind'], path: m[2]! });
  }
  return out;
}

/** The base commit of a commit (itself, or the base a client-layered commit records). */
function baseOf(repo: string, commit: string): string {
  const meta = commitInfo(repo, commit).metadata;
  const layered = meta[META_CLIENT_LAYER] === true || meta[META_CLIENT_LAYER] === 'true';
  const base = meta[META_BASE_CHECKSUM];
  return layered && typeof base === 'string' && base !== '' ? base : commit;
}

/** Whether `ancestor` is `commit` or in its parent chain (as far as the repository has it). */
function inHistory(repo: string, commit: string, ancestor: string): boolean {
  let c: string | null = commit;
  for (let i = 0; c && i < 10_000; i++) {
    if (c === ancestor) return true;
    try {
      c = commitInfo(repo, c).parent;
    } catch {
      return false;
    }
  }
  return false;
}

/** The pending deployment of the booted one's stateroot: what boots next, when it is not the booted one. */
function pendingOf(sys: Sysroot, booted: Deployment): Deployment | undefined {
  const first = sys.deployments.find((d) => d.osname === booted.osname);
  return first && first !== booted ? first : undefined;
}

const isUsrFile = (p: string): boolean => p.startsWith('/usr/') && !p.startsWith('/usr/etc/') && !BOOKKEEPING.some((b) => p.startsWith(b));

/** Added paths, keeping only the topmost of an added directory (a recursive copy brings the rest). */
function topmost(paths: string[]): string[] {
  const set = new Set(paths);
  return paths.filter((p) => {
    for (let d = p.slice(0, p.lastIndexOf('/')); d.length > 0; d = d.slice(0, d.lastIndexOf('/'))) if (set.has(d)) return false;
    return true;
  });
}

// The writer: in a mount namespace of its own, /usr (the transient overlay) is remounted writable; the
// system outside keeps its read-only view. $1: the tree to copy from; $2: NUL-separated absolute paths
// to remove; $3: NUL-separated paths (relative to $1) to copy.
const WRITER = [
  'set -e',
  'mount -o remount,rw /usr',
  'cd "$1"',
  'if [ -s "$2" ]; then xargs -0 -r -a "$2" rm -rf --; fi',
  'if [ -s "$3" ]; then xargs -0 -r -a "$3" cp -a --no-preserve=links --parents --remove-destination -t / --; fi',
].join('\n');

export async function runApplyLive(ctx: OperationContext, req: ApplyLiveRequest): Promise<OperationResult> {
  return withSysrootLock(ctx.sysroot, async () => {
    const sys = await loadSysroot(ctx.sysroot);
    // Everything is checked before anything is written; the running system itself is required last, so
    // that the checks can be tried on a sysroot directory whose booted deployment a test names.
    const booted = sys.booted ?? requireBootedSystem(sys, 'apply-live');
    const repo = sys.repoPath;
    let target: string;
    let targetDeployment: Deployment | undefined;
    if (req.options.reset) {
      target = booted.checksum;
    } else if (req.options.target) {
      const c = await revParse(repo, req.options.target, { signal: ctx.signal });
      if (!c) throw notFound(`${req.options.target} is not a commit of the sysroot's repository ${repo}`, 'give a checksum or a ref');
      target = c;
    } else {
      targetDeployment = pendingOf(sys, booted);
      if (!targetDeployment) {
        throw new AptOstreeError('not-found', 'apply-live: there is no pending deployment to apply; nothing changed', {
          hint: 'make one first (e.g. "apt-ostree install PKG", or "apt-ostree install -A PKG" for both at once), or name a commit with --target',
        });
      }
      target = targetDeployment.checksum;
    }
    targetDeployment ??= sys.deployments.find((d) => d.checksum === target);
    const targetBase = baseOf(repo, target);
    if (targetBase !== booted.baseChecksum && !inHistory(repo, targetBase, booted.baseChecksum)) {
      throw usageError(
        `apply-live: ${target.slice(0, 12)} is not built on the booted deployment's base ${booted.baseChecksum.slice(0, 12)} (nor on a descendant of it); nothing changed`,
        'a different base needs a reboot ("apt-ostree deploy" or "rebase", then reboot)',
      );
    }
    if ((booted.unlocked ?? 'none') === 'hotfix') {
      throw usageError(
        'apply-live: the booted deployment is unlocked as a hotfix; its /usr is not a transient overlay; nothing changed',
        'reboot into a locked deployment first',
      );
    }
    const state = readLiveState(booted);
    if (state?.inprogress && state.inprogress !== target) {
      throw usageError(
        `apply-live: an earlier apply of ${state.inprogress.slice(0, 12)} was interrupted; apply it again first (--target ${state.inprogress}); nothing changed`,
      );
    }
    const source = state?.commit ?? booted.checksum;
    const fromBooted = await diffCommits(repo, booted.checksum, target, ctx.signal);
    if (!req.options.allowReplacement) {
      const replaced = fromBooted.filter((e) => e.kind !== 'A' && isUsrFile(e.path));
      if (replaced.length > 0) {
        const names = replaced.slice(0, NAMED).map((e) => `${e.kind === 'M' ? 'changed' : 'removed'} ${e.path}`);
        throw usageError(
          `apply-live would change or remove ${replaced.length} file${replaced.length === 1 ? '' : 's'} of the booted tree: ${names.join(', ')}${replaced.length > NAMED ? ', …' : ''}; nothing changed`,
          'pass --allow-replacement to replace them in the running system anyway (programs running may then misbehave), or reboot',
        );
      }
    }
    requireBootedSystem(sys, 'apply-live');
    if (source === target && !state?.inprogress) {
      return { changed: false, summary: `No change: ${target.slice(0, 12)} is already live.` };
    }
    const diff = await diffCommits(repo, source, target, ctx.signal);
    if (ctx.signal.aborted) throw new CancelledError('apply-live');

    if ((booted.unlocked ?? 'none') === 'none') {
      await task(ctx.progress, 'Preparing a transient overlay on /usr (ostree admin unlock --transient)', () =>
        admin.unlock('transient', hostNamespacePrefix(), { signal: ctx.signal }),
      );
    }
    const record = (s: Partial<LiveState>): LiveState => ({
      added: [],
      changed: [],
      removed: [],
      etc: [],
      ...(state ?? {}),
      time: new Date().toISOString(),
      ...s,
    });
    writeLiveState(booted, record({ inprogress: target }));

    const work = mkdtempSync(join(repo, 'tmp', 'apt-ostree-live-'));
    try {
      // The tree to copy from: the deployment of the target when there is one, else a checkout of its /usr.
      let src = targetDeployment?.deployPath;
      if (!src) {
        src = join(work, 'root');
        await task(ctx.progress, `Checking out ${target.slice(0, 12)}`, () =>
          checkoutHardlinks(repo, target, join(src!, 'usr'), { subpath: '/usr', signal: ctx.signal }),
        );
      }
      const usr = diff.filter((e) => e.path.startsWith('/usr/') && !e.path.startsWith('/usr/etc/'));
      const removeList = usr.filter((e) => e.kind === 'D').map((e) => e.path);
      const copyList = topmost(usr.filter((e) => e.kind === 'A').map((e) => e.path))
        .concat(usr.filter((e) => e.kind === 'M').map((e) => e.path))
        .map((p) => p.slice(1));
      const removeFile = join(work, 'remove');
      const copyFile = join(work, 'copy');
      writeFileSync(removeFile, removeList.map((p) => `${p}\0`).join(''));
      writeFileSync(copyFile, copyList.map((p) => `${p}\0`).join(''));
      await task(ctx.progress, `Updating /usr (${copyList.length} to copy, ${removeList.length} to remove)`, () =>
        run('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', WRITER, 'apt-ostree-live', src!, removeFile, copyFile], {
          errorCode: 'internal',
          what: 'writing the changes into the overlay on /usr',
          signal: ctx.signal,
        }),
      );

      // New default configuration the running /etc lacks (what the user changed there stays as it is).
      const etc: string[] = [...(state?.etc ?? [])];
      for (const p of topmost(diff.filter((e) => e.kind === 'A' && e.path.startsWith('/usr/etc/')).map((e) => e.path))) {
        const rel = p.slice('/usr/etc/'.length);
        if (existsSync(join('/etc', rel))) continue;
        await run('cp', ['-a', '--no-preserve=links', '-T', join(src, 'usr', 'etc', rel), join('/etc', rel)], {
          errorCode: 'internal',
          what: `copying /etc/${rel}`,
          signal: ctx.signal,
        });
        etc.push(`/etc/${rel}`);
      }

      // What the live tree holds compared with the booted one.
      const added = fromBooted.filter((e) => e.kind === 'A').map((e) => e.path);
      const changed = fromBooted.filter((e) => e.kind === 'M').map((e) => e.path);
      const removed = fromBooted.filter((e) => e.kind === 'D').map((e) => e.path);
      await afterApply(ctx, diff);
      writeLiveState(
        booted,
        target === booted.checksum ? undefined : record({ commit: target, inprogress: undefined, added, changed, removed, etc }),
      );
      const what =
        target === booted.checksum
          ? 'the booted commit again'
          : `${target.slice(0, 12)}: ${added.length} added, ${changed.length} changed, ${removed.length} removed under / (${etc.length} new in /etc)`;
      return { changed: true, summary: `Applied live: /usr is now ${what}.` };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** systemd picks up what came live: units, system users, tmpfiles (each only when the system has it). */
async function afterApply(ctx: OperationContext, diff: DiffEntry[]): Promise<void> {
  const live = diff.filter((e) => e.kind !== 'D').map((e) => e.path);
  const confs = (dir: string): string[] => live.filter((p) => p.startsWith(dir) && p.endsWith('.conf'));
  const attempt = async (title: string, cmd: string, args: string[]): Promise<void> => {
    try {
      await task(ctx.progress, title, () => run(cmd, args, { errorCode: 'internal', what: title, signal: ctx.signal }));
    } catch (e) {
      // The files are live already; a failing helper is reported, not undone.
      log.warning(`${title}: ${(e as Error).message}`);
      ctx.progress.message(`warning: ${title} failed: ${(e as Error).message}`);
    }
  };
  if (!existsSync('/run/systemd/system')) return;
  await attempt('Reloading systemd units (systemctl daemon-reload)', 'systemctl', ['daemon-reload']);
  const sysusers = confs('/usr/lib/sysusers.d/');
  if (sysusers.length > 0 && existsSync('/usr/bin/systemd-sysusers'))
    await attempt('Creating system users (systemd-sysusers)', 'systemd-sysusers', sysusers);
  const tmpfiles = confs('/usr/lib/tmpfiles.d/');
  if (tmpfiles.length > 0 && existsSync('/usr/bin/systemd-tmpfiles'))
    await attempt('Creating files and directories (systemd-tmpfiles --create)', 'systemd-tmpfiles', ['--create', ...tmpfiles]);
}

export async function runUsrOverlay(ctx: OperationContext, req: UsrOverlayRequest): Promise<OperationResult> {
  return withSysrootLock(ctx.sysroot, async () => {
    const sys = await loadSysroot(ctx.sysroot);
    refuseUnlocked(sys.booted);
    requireBootedSystem(sys, 'usroverlay');
    const mode = req.options.hotfix ? 'hotfix' : req.options.transient ? 'transient' : 'development';
    const out = await task(ctx.progress, `Unlocking /usr (ostree admin unlock${mode === 'development' ? '' : ` --${mode}`})`, () =>
      admin.unlock(mode, hostNamespacePrefix(), { signal: ctx.signal }),
    );
    for (const l of out.split('\n')) if (l.trim() !== '') ctx.progress.message(l.trim());
    const summary =
      mode === 'hotfix'
        ? 'A writable overlay is mounted on /usr; the changes are kept across reboots (hotfix), and a clone of the deployment is the rollback.'
        : mode === 'transient'
          ? 'A transient overlay is prepared on /usr, read-only; it is gone after a reboot.'
          : 'A writable overlay is mounted on /usr; every change there is gone after a reboot.';
    return { changed: true, summary };
  });
}

/** install -A: the new deployment as install makes it, then applied live (the booted system only, checked first). */
export async function runInstallApplyLive(
  ctx: OperationContext,
  req: Extract<OperationRequest, { kind: 'install' }>,
): Promise<OperationResult> {
  if (!req.options.applyLive || req.options.dryRun) return runLayeringOperation(ctx, req);
  return withSysrootLock(ctx.sysroot, async () => {
    const sys = await loadSysroot(ctx.sysroot);
    const booted = requireBootedSystem(sys, 'install --apply-live');
    if ((booted.unlocked ?? 'none') === 'hotfix')
      throw usageError('install --apply-live: the booted deployment is unlocked as a hotfix; nothing changed');
    const made = await runLayeringOperation(ctx, req);
    if (!made.deployment) return made;
    const live = await runApplyLive(ctx, { kind: 'apply-live', options: { target: made.deployment } });
    return { ...made, summary: `${made.summary}\n${live.summary}`, rebootRequested: false };
  });
}
