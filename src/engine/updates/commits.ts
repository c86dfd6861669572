/**
 * Reading what the updates need from commits (base or client-layered) without
 * checking anything out: version, timestamp, parent and the package list that
 * compose (and layering) record in the commit metadata.
 */
import { AptOstreeError } from '../errors';
import { META_BASE_CHECKSUM, META_CLIENT_LAYER, META_PACKAGES, META_VERSION, type PackageRecord } from '../ostree/metadata';
import { commitInfo } from '../ostree/native';

export interface CommitSummary {
  checksum: string;
  parent?: string;
  /** Seconds since the epoch. */
  timestamp: number;
  version?: string;
  /** Base commit of a client-layered commit. */
  baseChecksum?: string;
}

export async function readCommit(repo: string, rev: string): Promise<CommitSummary> {
  const info = commitInfo(repo, rev);
  const v = info.metadata[META_VERSION];
  const layered = info.metadata[META_CLIENT_LAYER];
  const base = info.metadata[META_BASE_CHECKSUM];
  return {
    checksum: info.checksum,
    parent: info.parent ?? undefined,
    timestamp: info.timestamp,
    version: typeof v === 'string' ? v : undefined,
    baseChecksum: (layered === 'true' || layered === true) && typeof base === 'string' && base !== '' ? base : undefined,
  };
}

/** Parse the JSON of META_PACKAGES ([name, version, arch][]), validating its shape. */
export function parsePackageList(json: string, where: string): PackageRecord[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new AptOstreeError('invalid-config', `${where}: ${META_PACKAGES} is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(v)) throw new AptOstreeError('invalid-config', `${where}: ${META_PACKAGES} is not a list`);
  return v.map((e: unknown, i) => {
    if (Array.isArray(e) && e.length >= 3 && e.slice(0, 3).every((x) => typeof x === 'string')) {
      return { name: e[0] as string, version: e[1] as string, arch: e[2] as string };
    }
    if (e && typeof e === 'object' && 'name' in e && 'version' in e) {
      const o = e as Record<string, unknown>;
      if (typeof o.name === 'string' && typeof o.version === 'string') {
        return { name: o.name, version: o.version, arch: typeof o.arch === 'string' ? o.arch : '' };
      }
    }
    throw new AptOstreeError('invalid-config', `${where}: entry ${i} of ${META_PACKAGES} is not [name, version, arch]`);
  });
}

/**
 * The packages of a commit, from its metadata. A client-layered commit
 * without its own list falls back to its base's (with `fromBase` set).
 */
export async function readCommitPackages(repo: string, rev: string): Promise<{ packages: PackageRecord[]; fromBase: boolean }> {
  const info = commitInfo(repo, rev);
  const raw = info.metadata[META_PACKAGES];
  if (typeof raw === 'string') return { packages: parsePackageList(raw, `commit ${info.checksum}`), fromBase: false };
  if (Array.isArray(raw)) return { packages: parsePackageList(JSON.stringify(raw), `commit ${info.checksum}`), fromBase: false };
  const base = info.metadata[META_BASE_CHECKSUM];
  if (typeof base === 'string' && base !== '' && base !== info.checksum) {
    const b = await readCommitPackages(repo, base);
    return { packages: b.packages, fromBase: true };
  }
  throw new AptOstreeError('not-found', `commit ${info.checksum} has no package list in its metadata (${META_PACKAGES})`, {
    hint: 'it was not composed by apt-ostree; db list and db diff read the package list that "apt-ostree compose tree" records',
  });
}
