/**
 * `db list` and `db diff`: the packages of commits and how they differ, read
 * from commit metadata (nothing is checked out). Revisions are anything the
 * sysroot's repository resolves (checksum, ref, remote:ref).
 */
import { AptOstreeError } from '../errors';
import type { PackageRecord } from '../ostree/metadata';
import { revParse } from '../ostree/repo';
import { loadSysroot, type Deployment, type Sysroot } from '../sysroot';
import { readCommit, readCommitPackages } from './commits';
import { diffPackages, type PackageDiff } from './pkgdiff';

export interface DbCommit {
  /** What the user named (a revision or a deployment). */
  label: string;
  checksum: string;
  version?: string;
}

export interface DbListEntry extends DbCommit {
  packages: PackageRecord[];
}

export interface DbDiffResult {
  from: DbCommit;
  to: DbCommit;
  diff: PackageDiff;
}

async function resolve(sys: Sysroot, rev: string): Promise<DbCommit> {
  const csum = await revParse(sys.repoPath, rev);
  if (!csum) {
    throw new AptOstreeError('not-found', `unknown revision "${rev}" in ${sys.repoPath}`, {
      hint: "give a commit checksum or a ref of the sysroot's repository (apt-ostree status shows the deployments' commits)",
    });
  }
  const c = await readCommit(sys.repoPath, csum);
  return { label: rev, checksum: csum, version: c.version };
}

function ofDeployment(d: Deployment, label: string): DbCommit {
  return { label, checksum: d.checksum, version: d.version };
}

export async function dbList(sysroot: string, revs: readonly string[]): Promise<DbListEntry[]> {
  const sys = await loadSysroot(sysroot);
  let commits: DbCommit[];
  if (revs.length > 0) {
    commits = [];
    for (const r of revs) commits.push(await resolve(sys, r));
  } else {
    const seen = new Set<string>();
    commits = sys.deployments
      .filter((d) => !seen.has(d.checksum) && seen.add(d.checksum))
      .map((d) => ofDeployment(d, `deployment ${d.index}`));
    if (commits.length === 0)
      throw new AptOstreeError('not-found', `the sysroot ${sys.path} has no deployment`, { hint: 'name a revision' });
  }
  const out: DbListEntry[] = [];
  for (const c of commits) out.push({ ...c, packages: (await readCommitPackages(sys.repoPath, c.checksum)).packages });
  return out;
}

/**
 * Default pair, as rpm-ostree: on a booted system the booted deployment
 * against the pending one (the default when it is not the booted one); on a
 * sysroot that is not booted, the previous default (the rollback) against the
 * default. With one revision: that against the booted (or default) deployment.
 */
export async function dbDiff(sysroot: string, from?: string, to?: string): Promise<DbDiffResult> {
  const sys = await loadSysroot(sysroot);
  let a: DbCommit;
  let b: DbCommit;
  if (from !== undefined && to !== undefined) {
    a = await resolve(sys, from);
    b = await resolve(sys, to);
  } else if (from !== undefined) {
    a = await resolve(sys, from);
    const cur = sys.booted ?? sys.defaultDeployment;
    if (!cur)
      throw new AptOstreeError('not-found', `the sysroot ${sys.path} has no deployment to compare ${from} with`, {
        hint: 'name both revisions',
      });
    b = ofDeployment(cur, sys.booted ? 'booted deployment' : 'default deployment');
  } else if (sys.booted) {
    const pending = sys.deployments.find((d) => d.osname === sys.booted!.osname && d !== sys.booted && d.index < sys.booted!.index);
    if (!pending) {
      throw new AptOstreeError('not-found', 'there is no pending deployment to compare the booted one with', {
        hint: 'name the revisions: apt-ostree db diff FROM TO',
      });
    }
    a = ofDeployment(sys.booted, 'booted deployment');
    b = ofDeployment(pending, 'pending deployment');
  } else {
    const def = sys.defaultDeployment;
    const other = def ? sys.deployments.find((d) => d !== def && d.osname === def.osname) : undefined;
    if (!def || !other) {
      throw new AptOstreeError('not-found', `the sysroot ${sys.path} has no second deployment to compare the default one with`, {
        hint: 'name the revisions: apt-ostree db diff FROM TO',
      });
    }
    a = ofDeployment(other, 'rollback deployment');
    b = ofDeployment(def, 'default deployment');
  }
  const [pa, pb] = await Promise.all([readCommitPackages(sys.repoPath, a.checksum), readCommitPackages(sys.repoPath, b.checksum)]);
  return { from: a, to: b, diff: diffPackages(pa.packages, pb.packages) };
}
