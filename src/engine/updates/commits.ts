/**
 * Reading what the updates need from commits (base or client-layered) without
 * checking anything out: version, timestamp, parent and the package list that
 * compose (and layering) record in the commit metadata.
 */
import { AptOstreeError } from '../errors';
import {
  META_BASE_CHECKSUM,
  META_CLIENT_LAYER,
  META_PACKAGES,
  META_VERSION,
  parsePackageList,
  type PackageRecord,
} from '../ostree/metadata';
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
