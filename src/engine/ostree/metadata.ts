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
