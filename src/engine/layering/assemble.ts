/**
 * Assembling a deployment commit from a base commit and an origin's layering
 * requests (packages, local packages, removals and replacements of base
 * packages):
 *
 *  1. hardlink checkout of the base under the repo's tmp/ (same filesystem);
 *  2. resolution by the tree's own APT (bubblewrap, tree read-only) against
 *     the sources the deployment configures, lists cached in the sysroot;
 *  3. packages not yet in the repo are downloaded and imported, once each;
 *  4. the packages are rebuilt from their commits (dpkg-deb -b -Znone) and
 *     installed by the tree's dpkg in bubblewrap over an overlayfs whose lower
 *     layer is the checkout, in a private mount namespace;
 *  5. the overlay's upper directory is folded into the checkout, /var content
 *     becomes tmpfiles.d entries, users become a sysusers.d snippet;
 *  6. `ostree commit --link-checkout-speedup` with the base as parent.
 */
import {
  appendFileSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { AptOstreeError } from '../errors';
import { run } from '../exec';
import { regenerateInitramfs } from '../initramfs';
import { log } from '../log';
import type { OperationContext } from '../operations/types';
import { hasLayering, type Origin } from '../origin';
import {
  META_BASE_CHECKSUM,
  META_CLIENT_LAYER,
  META_LAYERED_ALL,
  META_LAYERED_PACKAGES,
  META_PACKAGES,
  META_REMOVED_BASE_PACKAGES,
  META_REPLACED_BASE_PACKAGES,
  type PackageRecord,
} from '../ostree/metadata';
import { checkoutHardlinks, commitTree, packagesJson, readCommitMetadataString } from '../ostree/repo';
import { task } from '../progress';
import { convertVarToTmpfiles, DEBCONF_CACHE, DPKG_DATABASE, dpkgDatabaseOf, VAR_SYMLINKS } from '../tree/layout';
import type { Sysroot } from '../sysroot';
import {
  addIndexChecksums,
  aptDirs,
  aptUpdate,
  archiveFileName,
  download,
  explainConflict,
  listsAreCurrent,
  resolve,
  type AptTree,
  type PlanEntry,
} from './apt';
import { importDeb, importedFromRef, sha256File, type ImportedPackage } from './debimport';
import { dropMountpoints, foldUpper } from './fold';
import { packageRef } from './names';
import type { OverlaySpec } from './overlay-run';
import { baseIsolation, etcEntriesFor, scriptCapabilityArgs } from './sandbox';
import { addedEntries, readIdTables, writeSysusers } from './users';

/** tmpfiles.d snippet for what layered packages put under /var. */
export const LAYERED_TMPFILES_CONF = 'apt-ostree-layered';
/** Prefix of apt-ostree's work directories in the repo's tmp/ (removed by the next operation when left over). */
export const WORKDIR_PREFIX = 'apt-ostree-layer-';

export interface BuildOptions {
  sysroot: Sysroot;
  baseCommit: string;
  origin: Origin;
  /** /etc of the merge deployment (its APT sources); default: the default deployment's. */
  etcDir?: string;
  cacheOnly?: boolean;
  /** Stop after resolution: return the plan only. */
  dryRun?: boolean;
  /** Requested names that must not be in the base (new requests without --allow-inactive). */
  mustNotBeInBase?: string[];
  /** Newly requested removals: these must be packages of the base. */
  mustBeInBase?: string[];
  /** Local packages used from their files rather than the repository (a dry run does not import), by sha256. */
  localFiles?: Map<string, string>;
}

export interface LayeringPlan {
  /** Packages installed on top of the base, in APT's order. */
  install: PlanEntry[];
  /** Base packages removed (override remove). */
  remove: PackageRecord[];
  /** Requested packages the base already provides (inactive requests). */
  inactive: string[];
}

export interface BuildResult {
  commit: string;
  layered: boolean;
  plan?: LayeringPlan;
  /** Per-phase durations in ms (for the benchmark). */
  timings: Record<string, number>;
}

/** Remove work directories that an interrupted operation left in the repo's tmp/. */
export function cleanLeftovers(repoPath: string): number {
  const tmp = join(repoPath, 'tmp');
  if (!existsSync(tmp)) return 0;
  let n = 0;
  for (const e of readdirSync(tmp)) {
    if (e.startsWith(WORKDIR_PREFIX) || e.startsWith('apt-ostree-import-')) {
      rmSync(join(tmp, e), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

/** Installed packages of a tree (its dpkg database), by name. */
export async function treePackages(root: string): Promise<Map<string, PackageRecord>> {
  const r = await run(
    'dpkg-query',
    [`--admindir=${dpkgDatabaseOf(root)}`, '-W', '-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n'],
    {
      errorCode: 'dpkg',
      what: 'listing the packages of the tree',
    },
  );
  const m = new Map<string, PackageRecord>();
  for (const line of r.stdout.split('\n')) {
    const [st, name, version, arch] = line.split('\t');
    if (!name || !st?.startsWith('ii')) continue;
    m.set(name, { name, version: version!, arch: arch! });
  }
  return m;
}

function parseNva(nva: string): { name: string; version: string; arch: string } {
  const parts = nva.split('_');
  if (parts.length !== 3) throw new AptOstreeError('invalid-config', `"${nva}" in the origin is not NAME_VERSION_ARCH`);
  return { name: parts[0]!, version: parts[1]!, arch: parts[2]! };
}

const timed = async <T>(timings: Record<string, number>, phase: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings[phase] = (timings[phase] ?? 0) + (Date.now() - t0);
  }
};

/** Run `fn` on at most `n` items at a time. */
async function parallel<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/**
 * The commit to deploy for `origin` on `baseCommit`: the base itself when the
 * origin asks for nothing, otherwise a new client-layered commit.
 */
export async function buildDeploymentCommit(ctx: OperationContext, o: BuildOptions): Promise<BuildResult> {
  const timings: Record<string, number> = {};
  if (!hasLayering(o.origin) && !o.origin.initramfsRegenerate) return { commit: o.baseCommit, layered: false, timings };
  const repo = o.sysroot.repoPath;
  mkdirSync(join(repo, 'tmp'), { recursive: true });
  const work = mkdtempSync(join(repo, 'tmp', WORKDIR_PREFIX));
  try {
    return await buildIn(ctx, o, work, timings);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function buildIn(ctx: OperationContext, o: BuildOptions, work: string, timings: Record<string, number>): Promise<BuildResult> {
  const { progress, signal } = ctx;
  const repo = o.sysroot.repoPath;
  const root = join(work, 'root');
  await timed(timings, 'checkout', () =>
    task(progress, `Checking out ${o.baseCommit.slice(0, 12)}`, () => checkoutHardlinks(repo, o.baseCommit, root, { signal })),
  );
  const base = await treePackages(root);

  // What the origin asks for, checked against the base.
  const requested = o.origin.requestedPackages;
  const inactive = requested.filter((p) => base.has(p.replace(/:.*$/, '')));
  const clash = (o.mustNotBeInBase ?? []).filter((p) => inactive.includes(p));
  if (clash.length > 0) {
    throw new AptOstreeError('usage', `${clash.join(', ')} ${clash.length > 1 ? 'are' : 'is'} provided by the base`, {
      hint: 'nothing to layer; pass --allow-inactive to record the request anyway (it takes effect if a later base drops the package)',
    });
  }
  const names = requested.filter((p) => !inactive.includes(p));
  const remove: PackageRecord[] = [];
  const newRemovals = o.mustBeInBase ?? [];
  for (const r of o.origin.overrideRemove) {
    const b = base.get(r);
    // A removal the base does not (or no longer) need stays requested, inactive, as in rpm-ostree;
    // only a new request for a package the base lacks is an error.
    if (!b && newRemovals.includes(r))
      throw new AptOstreeError('not-found', `cannot remove ${r}: ${r} is not a package of the base ${o.baseCommit.slice(0, 12)}`, {
        hint: 'nothing changed; "apt-ostree db list" shows the packages of the base (rpm-ostree users: "rpm-ostree override remove" names base packages only)',
      });
    if (b) remove.push(b);
  }

  // Local packages come from their commits in the repo.
  const locals: ImportedPackage[] = [];
  const localFiles: string[] = [];
  for (const l of [...o.origin.requestedLocalPackages, ...o.origin.overrideReplaceLocal]) {
    const file = o.localFiles?.get(l.sha256);
    if (file !== undefined) {
      localFiles.push(file);
      continue;
    }
    const { name, version, arch } = parseNva(l.nva);
    const imp = await importedFromRef(repo, packageRef(name, version, arch));
    if (!imp || imp.sha256 !== l.sha256) {
      throw new AptOstreeError(
        'not-found',
        `the local package ${l.nva} (sha256 ${l.sha256.slice(0, 12)}…) is no longer in the sysroot's repository`,
        {
          hint: 'install the .deb file again, or remove it from the request (apt-ostree uninstall / override reset)',
        },
      );
    }
    locals.push(imp);
  }
  const debDir = join(work, 'debs');
  mkdirSync(debDir);
  const builtDebs = new Map<string, string>();
  const buildDeb = async (p: ImportedPackage): Promise<string> => {
    const have = builtDebs.get(p.commit);
    if (have) return have;
    const dir = join(work, `pkg-${p.commit.slice(0, 16)}`);
    // A copy, not hardlinks: files of equal content share one object, and
    // hardlinks between them would go into the .deb as tar hard links (which
    // dpkg cannot make when the first one is excluded by a path-exclude).
    await run('ostree', ['checkout', `--repo=${repo}`, '--force-copy', p.commit, dir], {
      errorCode: 'ostree',
      what: `checking out ${p.name} ${p.version}`,
      signal,
    });
    const out = join(debDir, `${builtDebs.size.toString().padStart(4, '0')}_${archiveFileName(p.name, p.version, p.arch)}`);
    builtDebs.set(p.commit, out);
    await run('dpkg-deb', ['--nocheck', '-Znone', '-b', dir, out], {
      errorCode: 'dpkg',
      what: `rebuilding ${p.name} ${p.version}`,
      signal,
    });
    rmSync(dir, { recursive: true, force: true });
    return out;
  };
  for (const l of locals) await refuseUsrLocal(repo, l, signal);
  const localDebs = [...(await timed(timings, 'checkout', () => parallel(locals, 2, buildDeb))), ...localFiles];

  // Resolution.
  const tree: AptTree = {
    root,
    etc: etcEntriesFor(root, o.etcDir ?? (o.sysroot.defaultDeployment ? join(o.sysroot.defaultDeployment.deployPath, 'etc') : undefined)),
    dirs: aptDirs(o.sysroot.path),
  };
  let plan: PlanEntry[] = [];
  if (names.length > 0 || localDebs.length > 0 || remove.length > 0) {
    if (names.length > 0 && !listsAreCurrent(tree)) {
      if (o.cacheOnly) {
        throw new AptOstreeError('apt', 'no current APT metadata in the cache, and --cache-only forbids downloading it', {
          hint: 'run "apt-ostree refresh-md" first, or run without --cache-only',
        });
      }
      await timed(timings, 'resolve', () => task(progress, 'Refreshing APT metadata', () => aptUpdate(tree, signal)));
    }
    const req = { names, localDebs, remove: remove.map((r) => r.name), network: false, signal };
    plan = await timed(timings, 'resolve', () => task(progress, 'Resolving packages', () => resolve(tree, req)));
    await timed(timings, 'resolve', () => addIndexChecksums(tree, plan, signal));
    const removals = plan.filter((p) => p.action === 'remove');
    const unexpected = removals.filter((p) => !remove.some((r) => r.name === p.name));
    if (unexpected.length > 0) {
      const why = await explainConflict(
        tree,
        req,
        unexpected.map((p) => p.name),
      );
      throw new AptOstreeError(
        'apt',
        `the request conflicts with the base: it would remove the base package${unexpected.length > 1 ? 's' : ''} ` +
          unexpected.map((p) => p.name).join(', '),
        {
          details: why,
          hint: 'APT\'s explanation is above; to drop a base package deliberately use "apt-ostree override remove"',
        },
      );
    }
  }
  const install = plan.filter((p) => p.action === 'install');
  // Layering adds packages; a base package changes only by an explicit override replace
  // (rpm-ostree: "conflicting requests").
  const baseChanges = install.filter((p) => base.has(p.name) && !locals.some((l) => l.name === p.name && l.version === p.version));
  if (baseChanges.length > 0) {
    const list = baseChanges.map((p) => `${p.name} ${base.get(p.name)!.version} -> ${p.version}`).join(', ');
    throw new AptOstreeError(
      'apt',
      `the request would change package${baseChanges.length > 1 ? 's' : ''} of the base: ${list}${names.length > 0 ? ` (needed by ${names.join(', ')})` : ''}; nothing was deployed`,
      {
        hint: 'layered packages must work with the base\'s versions: wait for a base that has the newer version ("apt-ostree upgrade"), or replace the base package deliberately with "apt-ostree override replace FILE.deb" (as with rpm-ostree override replace)',
      },
    );
  }
  const result: LayeringPlan = { install, remove, inactive };
  if (o.dryRun) return { commit: o.baseCommit, layered: true, plan: result, timings };

  // Download and import what the repo does not have yet.
  const fromArchive = install.filter((p) => !locals.some((l) => l.name === p.name && l.version === p.version));
  const imported = new Map<string, ImportedPackage>();
  const missing: PlanEntry[] = [];
  await timed(timings, 'import', async () => {
    for (const p of fromArchive) {
      const imp = await importedFromRef(repo, packageRef(p.name, p.version, p.arch));
      // The same version rebuilt in the archive (another checksum in its index) is imported again.
      if (imp && (!p.sha256 || imp.sha256 === p.sha256)) imported.set(p.name, imp);
      else {
        await dropStaleArchive(join(tree.dirs.archives, archiveFileName(p.name, p.version, p.arch)), p.sha256);
        missing.push(p);
      }
    }
  });
  if (missing.length > 0) {
    await timed(timings, 'download', () =>
      task(progress, `Downloading ${missing.length} package${missing.length > 1 ? 's' : ''}`, () =>
        download(tree, missing, { network: !o.cacheOnly, signal }),
      ),
    );
    await timed(timings, 'import', () =>
      task(progress, `Importing ${missing.length} package${missing.length > 1 ? 's' : ''}`, async () => {
        const imps = await parallel(missing, 2, (p) =>
          importDeb(repo, join(tree.dirs.archives, archiveFileName(p.name, p.version, p.arch)), join(repo, 'tmp'), {
            local: false,
            signal,
          }),
        );
        for (const i of imps) imported.set(i.name, i);
      }),
    );
  }
  for (const l of locals) imported.set(l.name, l);
  const ordered = install.map((p) => {
    const i = imported.get(p.name);
    if (!i) throw new AptOstreeError('internal', `${p.name} ${p.version} was planned but not imported`);
    return i;
  });
  for (const p of ordered) await refuseUsrLocal(repo, p, signal);
  const debs = await timed(timings, 'checkout', () => task(progress, 'Checking out packages', () => parallel(ordered, 2, buildDeb)));

  // Scripts: dpkg of the tree over an overlay.
  const usersBefore = readIdTables(join(root, 'usr/etc'));
  await timed(timings, 'scripts', () =>
    task(progress, 'Running dpkg and maintainer scripts', () =>
      runDpkgOverlay(work, root, { remove: remove.map((r) => r.name), debs, preDepends: ordered.map((p) => p.preDepends) }, signal),
    ),
  );

  // Commit.
  return timed(timings, 'commit', () =>
    task(progress, 'Writing the deployment commit', async () => {
      convertVarToTmpfiles(root, LAYERED_TMPFILES_CONF);
      writeSysusers(root, addedEntries(usersBefore, readIdTables(join(root, 'usr/etc'))));
      if (o.origin.initramfsRegenerate) {
        await regenerateInitramfs(root, o.origin.initramfsArgs, { progress, signal });
      }
      const after = await treePackages(root);
      const layeredAll = [...after.values()].filter((p) => !base.has(p.name));
      const replaced = [...after.values()]
        .filter((p) => base.has(p.name) && base.get(p.name)!.version !== p.version)
        .map((p) => [
          [p.name, p.version, p.arch],
          [p.name, base.get(p.name)!.version, base.get(p.name)!.arch],
        ]);
      const layeredRequested = names
        .filter((n) => after.has(n.replace(/:.*$/, '')))
        .concat(o.origin.requestedLocalPackages.map((l) => parseNva(l.nva).name));
      const endOfLife = await readCommitMetadataString(repo, o.baseCommit, 'ostree.endoflife');
      const commit = await commitTree({
        repo,
        tree: { dir: root },
        parent: o.baseCommit,
        subject: `apt-ostree layering on ${o.baseCommit.slice(0, 12)}`,
        metadata: {
          [META_CLIENT_LAYER]: 'true',
          [META_BASE_CHECKSUM]: o.baseCommit,
          [META_PACKAGES]: packagesJson([...after.values()]),
          [META_LAYERED_PACKAGES]: JSON.stringify([...new Set(layeredRequested)].sort()),
          [META_LAYERED_ALL]: packagesJson(layeredAll),
          [META_REMOVED_BASE_PACKAGES]: packagesJson(remove),
          [META_REPLACED_BASE_PACKAGES]: JSON.stringify(replaced),
        },
        keepMetadata: ['version', ...(endOfLife !== undefined ? ['ostree.endoflife'] : [])],
        // ostree.bootable and ostree.linux, as on a base commit (ostree needs the kernel for it).
        extraArgs: hasKernel(root) ? ['--bootable'] : [],
        linkCheckoutSpeedup: true,
        noBindings: true,
        signal,
      });
      return { commit, layered: true, plan: result, timings };
    }),
  );
}

/** Remove a cached download whose checksum is not the one the index now names (so it is downloaded again). */
async function dropStaleArchive(path: string, sha256: string | undefined): Promise<void> {
  if (sha256 && existsSync(path) && (await sha256File(path)) !== sha256) rmSync(path, { force: true });
}

/** Mount points bubblewrap makes in the overlay that are no content of the tree. */
const MOUNTPOINTS = ['etc', 'var/lib/dpkg', 'var/cache/debconf', 'usr/sbin/policy-rc.d', 'run/apt-ostree-debs', 'var/tmp'];

interface DpkgJob {
  remove: string[];
  debs: string[];
  preDepends: string[];
}

/** dpkg runs over the overlay; then the upper directory is folded into `root`. */
async function runDpkgOverlay(work: string, root: string, job: DpkgJob, signal: AbortSignal): Promise<void> {
  const upper = join(work, 'upper');
  const ovlWork = join(work, 'ovl-work');
  const merged = join(work, 'merged');
  const aux = join(work, 'aux');
  for (const d of [upper, ovlWork, merged, aux]) mkdirSync(d);
  writeFileSync(join(aux, 'ostree-booted'), '');
  writeFileSync(join(aux, 'policy-rc.d'), '#!/bin/sh\n# apt-ostree: no service is started while packages are layered\nexit 101\n', {
    mode: 0o755,
  });
  writeFileSync(join(aux, 'systemctl'), '#!/bin/sh\n# apt-ostree: systemctl does nothing while packages are layered\nexit 0\n', {
    mode: 0o755,
  });
  chmodSync(join(aux, 'policy-rc.d'), 0o755);
  chmodSync(join(aux, 'systemctl'), 0o755);
  const bw = [
    ...baseIsolation({ network: false }),
    ...scriptCapabilityArgs(),
    '--bind',
    merged,
    '/',
    '--bind',
    join(merged, 'usr/etc'),
    '/etc',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--perms',
    '1777',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/run',
    // Scratch space the scripts may use; mounted over the tree, so never committed.
    '--perms',
    '1777',
    '--tmpfs',
    '/var/tmp',
    // systemctl, udevadm, journalctl and friends: there is no running system to talk to.
    '--setenv',
    'SYSTEMD_OFFLINE',
    '1',
    '--bind',
    join(merged, DPKG_DATABASE),
    '/var/lib/dpkg',
  ];
  // The targets of /opt, /usr/local, /home... exist while dpkg runs, so that those symlinks resolve
  // (dpkg would otherwise replace a dangling one by a directory).
  const varLinks = VAR_SYMLINKS.filter((l) => isSymlink(join(root, l.path)));
  for (const l of varLinks) bw.push('--dir', `/${l.target}`);
  if (existsSync(join(root, DEBCONF_CACHE))) bw.push('--bind', join(merged, DEBCONF_CACHE), '/var/cache/debconf');
  bw.push('--ro-bind', join(aux, 'ostree-booted'), '/run/ostree-booted');
  bw.push('--ro-bind', join(aux, 'policy-rc.d'), '/usr/sbin/policy-rc.d');
  for (const p of ['usr/bin/systemctl', 'bin/systemctl']) {
    if (existsSync(join(root, p)) && !isSymlink(join(root, p))) bw.push('--ro-bind', join(aux, 'systemctl'), `/${p}`);
  }
  bw.push('--ro-bind', join(work, 'debs'), '/run/apt-ostree-debs', '--chdir', '/');
  const dpkg = ['dpkg', '--force-unsafe-io', '--force-confdef', '--force-confold', '--log=/dev/null'];
  const commands: string[][] = [];
  if (job.remove.length > 0) commands.push([...dpkg, '--force-depends', '--remove', ...job.remove]);
  // One dpkg -i per run of packages; a package that pre-depends on one of the current run starts a new one.
  let chunk: string[] = [];
  let chunkNames: string[] = [];
  job.debs.forEach((deb, i) => {
    const inside = `/run/apt-ostree-debs/${deb.split('/').pop()}`;
    const pre = job.preDepends[i] ?? '';
    const preNames = pre
      .split(/[,|]/)
      .map((s) => s.trim().split(/[\s(:]/)[0]!)
      .filter((s) => s !== '');
    if (preNames.some((n) => chunkNames.includes(n)) && chunk.length > 0) {
      commands.push([...dpkg, '-i', ...chunk]);
      chunk = [];
      chunkNames = [];
    }
    chunk.push(inside);
    chunkNames.push(nameFromDebFile(deb));
  });
  if (chunk.length > 0) commands.push([...dpkg, '-i', ...chunk]);
  const spec: OverlaySpec = { lower: root, upper, work: ovlWork, merged, bwrapArgs: bw, commands };
  const specFile = join(work, 'overlay-spec.json');
  writeFileSync(specFile, JSON.stringify(spec));
  const output: string[] = [];
  const t0 = Date.now();
  try {
    await run('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, join(__dirname, 'overlay-run.js'), specFile], {
      errorCode: 'dpkg',
      what: 'installing the packages',
      signal,
      onStderrLine: (l) => {
        output.push(l);
        log.debug(l);
      },
      hint: 'the output of dpkg and the maintainer scripts is above; nothing was deployed',
    });
  } catch (e) {
    if (e instanceof AptOstreeError && e.code === 'dpkg') {
      // The first failure and what led to it, then how dpkg ended.
      const first = output.findIndex((l) => /^dpkg: error|^dpkg: .*(trying to overwrite|dependency problems)/.test(l));
      const head = first >= 0 ? output.slice(Math.max(0, first - 25), first + 6) : [];
      const tailLines = output.slice(-12).filter((l) => !head.includes(l));
      const m = /dpkg: error processing[^\n]*\(--(?:install|configure)\):\n\s*(.*)/.exec(output.slice(first >= 0 ? first : 0).join('\n'));
      throw new AptOstreeError('dpkg', `installing the packages failed${m ? `: ${m[1]}` : ''}`, {
        details: [...head, ...(tailLines.length > 0 ? ['...', ...tailLines] : [])].join('\n'),
        hint: e.hint,
      });
    }
    throw e;
  }
  const t1 = Date.now();
  for (const l of ['var/log/dpkg.log', 'var/log/alternatives.log', 'var/log/apt'])
    if (!existsSync(join(root, l))) rmSync(join(upper, l), { recursive: true, force: true });
  const optLinks = relocateOpt(upper, root);
  dropMountpoints(upper, root, [...MOUNTPOINTS, 'var/log', 'var/cache', 'var/lib', ...varLinks.map((l) => l.target)]);
  const stats = await foldUpper(upper, root);
  if (optLinks.length > 0) {
    const conf = join(root, 'usr/lib/tmpfiles.d', `${LAYERED_TMPFILES_CONF}.conf`);
    mkdirSync(join(root, 'usr/lib/tmpfiles.d'), { recursive: true });
    if (existsSync(conf)) appendFileSync(conf, `${optLinks.join('\n')}\n`);
    else writeFileSync(conf, `# Generated by apt-ostree: /var content of the layered packages.\n${optLinks.join('\n')}\n`, { mode: 0o644 });
  }
  for (const l of varLinks) {
    if (!isSymlink(join(root, l.path)))
      throw new AptOstreeError(
        'internal',
        `installing the packages turned /${l.path} (a symlink to ${l.link}) into a directory; nothing was deployed`,
      );
  }
  log.info(
    `dpkg in the overlay: ${t1 - t0} ms; folding the overlay (${stats.added} added, ${stats.deleted} deleted): ${Date.now() - t1} ms`,
  );
}

/**
 * rpm-ostree's way with /opt (a symlink to /var/opt, which belongs to the
 * running system): what the packages put in /opt/NAME moves to
 * /usr/lib/opt/NAME, part of the image, and a tmpfiles.d line makes
 * /var/opt/NAME a symlink to it. Works on the overlay's upper directory;
 * returns the tmpfiles.d lines.
 */
function relocateOpt(upper: string, lower: string): string[] {
  const opt = join(upper, 'var/opt');
  if (!lstatSync(opt, { throwIfNoEntry: false })?.isDirectory()) return [];
  const lines: string[] = [];
  for (const name of readdirSync(opt).sort()) {
    const st = lstatSync(join(opt, name));
    if (st.isCharacterDevice() && st.rdev === 0) continue; // an overlay whiteout: nothing to move
    // Parent directories made in the upper directory get the lower one's mode (the fold applies it).
    let rel = '';
    for (const part of ['usr', 'lib', 'opt']) {
      rel = rel ? `${rel}/${part}` : part;
      if (existsSync(join(upper, rel))) continue;
      const low = lstatSync(join(lower, rel), { throwIfNoEntry: false });
      mkdirSync(join(upper, rel), { mode: low?.isDirectory() ? low.mode & 0o7777 : 0o755 });
      chmodSync(join(upper, rel), low?.isDirectory() ? low.mode & 0o7777 : 0o755);
    }
    const dest = join(upper, 'usr/lib/opt', name);
    rmSync(dest, { recursive: true, force: true });
    renameSync(join(opt, name), dest);
    lines.push(`L /var/opt/${name} - - - - /usr/lib/opt/${name}`);
  }
  return lines;
}

/**
 * /usr/local is a symlink to /var/usrlocal, the administrator's: a package
 * with files there cannot be part of an image (rpm-ostree refuses them too).
 */
async function refuseUsrLocal(repo: string, p: ImportedPackage, signal: AbortSignal): Promise<void> {
  const r = await run('ostree', ['ls', `--repo=${repo}`, '-R', p.commit, '/usr/local'], {
    errorCode: 'ostree',
    okCodes: [1],
    what: `listing /usr/local of ${p.name} ${p.version}`,
    signal,
  });
  if (r.code !== 0) return; // no /usr/local in the package
  const file = r.stdout
    .split('\n')
    .map((l) => /^([-dl])\S*\s+\d+\s+\d+\s+\d+\s+(\/\S.*?)(?: -> .*)?$/.exec(l.trim()))
    .find((m) => m !== null && m[1] !== 'd')?.[2];
  if (file === undefined) return;
  throw new AptOstreeError(
    'usage',
    `${p.name} ${p.version} cannot be layered: it has files in /usr/local (${file}); nothing was deployed`,
    {
      hint: '/usr/local is a symlink to /var/usrlocal, which belongs to the running system, not to the image; install such software into /usr/local on the running system instead (rpm-ostree refuses these packages as well)',
    },
  );
}

function hasKernel(root: string): boolean {
  const modules = join(root, 'usr/lib/modules');
  return existsSync(modules) && readdirSync(modules).some((k) => existsSync(join(modules, k, 'vmlinuz')));
}

function isSymlink(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
}

function nameFromDebFile(p: string): string {
  return (p.split('/').pop() ?? '').replace(/^\d+_/, '').split('_')[0]!;
}
