/**
 * Package differences between two package lists (from commit metadata):
 * what `db diff` and `upgrade --preview` show.
 */
import type { PackageRecord } from '../ostree/metadata';
import { compareDebianVersions } from './debversion';

export interface PackageChange {
  name: string;
  arch: string;
  from: string;
  to: string;
}

export interface PackageDiff {
  added: PackageRecord[];
  removed: PackageRecord[];
  upgraded: PackageChange[];
  downgraded: PackageChange[];
}

const key = (p: PackageRecord): string => `${p.name}:${p.arch}`;

export function diffPackages(from: readonly PackageRecord[], to: readonly PackageRecord[]): PackageDiff {
  const a = new Map(from.map((p) => [key(p), p]));
  const b = new Map(to.map((p) => [key(p), p]));
  const diff: PackageDiff = { added: [], removed: [], upgraded: [], downgraded: [] };
  for (const [k, p] of a) {
    const q = b.get(k);
    if (!q) {
      diff.removed.push(p);
      continue;
    }
    if (q.version === p.version) continue;
    const c = compareDebianVersions(q.version, p.version);
    const change = { name: p.name, arch: p.arch, from: p.version, to: q.version };
    if (c > 0) diff.upgraded.push(change);
    else if (c < 0) diff.downgraded.push(change);
  }
  for (const [k, q] of b) if (!a.has(k)) diff.added.push(q);
  const byName = (x: { name: string; arch: string }, y: { name: string; arch: string }): number =>
    x.name < y.name ? -1 : x.name > y.name ? 1 : x.arch < y.arch ? -1 : x.arch > y.arch ? 1 : 0;
  diff.added.sort(byName);
  diff.removed.sort(byName);
  diff.upgraded.sort(byName);
  diff.downgraded.sort(byName);
  return diff;
}

export function isEmptyDiff(d: PackageDiff): boolean {
  return d.added.length + d.removed.length + d.upgraded.length + d.downgraded.length === 0;
}

/** rpm-ostree-like text: "Upgraded:", "Downgraded:", "Removed:", "Added:" sections. */
export function formatDiff(d: PackageDiff, indent = '  '): string {
  const lines: string[] = [];
  const label = (p: { name: string; arch: string }): string => (p.arch === 'all' || p.arch === '' ? p.name : `${p.name}:${p.arch}`);
  if (d.upgraded.length > 0) {
    lines.push('Upgraded:');
    for (const c of d.upgraded) lines.push(`${indent}${label(c)} ${c.from} -> ${c.to}`);
  }
  if (d.downgraded.length > 0) {
    lines.push('Downgraded:');
    for (const c of d.downgraded) lines.push(`${indent}${label(c)} ${c.from} -> ${c.to}`);
  }
  if (d.removed.length > 0) {
    lines.push('Removed:');
    for (const p of d.removed) lines.push(`${indent}${label(p)} ${p.version}`);
  }
  if (d.added.length > 0) {
    lines.push('Added:');
    for (const p of d.added) lines.push(`${indent}${label(p)} ${p.version}`);
  }
  if (lines.length === 0) lines.push('No package changes.');
  return lines.join('\n');
}

/** The JSON shape of `db diff --json` and of the preview. */
export function diffToJson(d: PackageDiff): Record<string, unknown> {
  return {
    added: d.added.map((p) => ({ name: p.name, version: p.version, arch: p.arch })),
    removed: d.removed.map((p) => ({ name: p.name, version: p.version, arch: p.arch })),
    upgraded: d.upgraded.map((c) => ({ name: c.name, arch: c.arch, 'previous-version': c.from, version: c.to })),
    downgraded: d.downgraded.map((c) => ({ name: c.name, arch: c.arch, 'previous-version': c.from, version: c.to })),
  };
}
