/**
 * Commit metadata keys that apt-ostree writes and reads. `version` is OSTree's
 * own; the rest live under the `aptostree.` prefix.
 */
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
/** Packages of a base that came from a security source: JSON string of names (issue: automatic updates). */
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
