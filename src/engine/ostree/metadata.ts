/**
 * Commit metadata keys that apt-ostree writes and reads. `version` is OSTree's
 * own; the rest live under the `aptostree.` prefix.
 */
import { AptOstreeError } from '../errors';

export const META_VERSION = 'version';
/** Debian suite the tree was composed from (string). */
export const META_SUITE = 'aptostree.suite';
/** Installed packages: a JSON string of [name, version, architecture][] sorted by name. */
export const META_PACKAGES = 'aptostree.packages';
/** sha256 over the compose inputs (treefile + archive index checksums), for "no change". */
export const META_INPUTS = 'aptostree.inputs-checksum';
/** Set on commits made on the client by layering: "true". Their parent is the base commit. */
export const META_CLIENT_LAYER = 'aptostree.clientlayer';
/** Checksum of the base commit a client-layered commit was built on (string). */
export const META_BASE_CHECKSUM = 'aptostree.base-checksum';
/** Packages of a base that came from a security source: JSON string of names (for automatic updates). */
export const META_SECURITY_UPDATES = 'aptostree.security-updates';

/** One installed package as recorded in commit metadata. */
export interface PackageRecord {
  name: string;
  version: string;
  arch: string;
}

/** Of a client-layered commit: the requested packages it has layered, JSON string of names (rpm-ostree status "packages"). */
export const META_LAYERED_PACKAGES = 'aptostree.layered-packages';
/** Of a client-layered commit: base packages it removed (override remove), JSON [name, version, arch][]. */
export const META_REMOVED_BASE_PACKAGES = 'aptostree.removed-base-packages';
/** Of a client-layered commit: base packages it replaced, JSON [[name, version, arch] (new), [name, version, arch] (base)][]. */
export const META_REPLACED_BASE_PACKAGES = 'aptostree.replaced-base-packages';
/** Of a client-layered commit: every package it added on top of the base (requested and dependencies), JSON [name, version, arch][]. */
export const META_LAYERED_ALL = 'aptostree.layered-all';

/** Parse the JSON of META_PACKAGES ([name, version, arch][]), validating its shape; `where` names the commit in errors. */
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
