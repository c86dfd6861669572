/**
 * The origin file of a deployment (`/ostree/deploy/OS/deploy/CSUM.SERIAL.origin`),
 * in rpm-ostree's format:
 *
 *   [origin]    refspec= (no layering) or baserefspec= (with layering);
 *               override-commit= when a specific revision was deployed
 *   [packages]  requested=a;b;   requested-local=SHA256:NAME_VERSION_ARCH;
 *   [overrides] remove=a;        replace-local=SHA256:NAME_VERSION_ARCH;
 *   [aptostree] initramfs-regenerate=true  initramfs-args=--add;foo;
 *
 * Groups and keys this file does not know are kept as they are on rewrite.
 */
import { AptOstreeError } from './errors';
import { KeyFile } from './keyfile';

export interface LocalPackageRef {
  /** sha256 of the .deb file */
  sha256: string;
  /** NAME_VERSION_ARCH, as in the package's import ref */
  nva: string;
}

export interface Origin {
  refspec: string;
  overrideCommit?: string;
  requestedPackages: string[];
  requestedLocalPackages: LocalPackageRef[];
  overrideRemove: string[];
  overrideReplaceLocal: LocalPackageRef[];
  initramfsRegenerate: boolean;
  initramfsArgs: string[];
  /** The key file as read, so that unknown keys survive a rewrite. */
  readonly keyfile?: KeyFile;
}

export function newOrigin(refspec: string): Origin {
  return {
    refspec,
    requestedPackages: [],
    requestedLocalPackages: [],
    overrideRemove: [],
    overrideReplaceLocal: [],
    initramfsRegenerate: false,
    initramfsArgs: [],
  };
}

export function parseOrigin(text: string, source = 'origin file'): Origin {
  const kf = KeyFile.parse(text, source);
  const refspec = kf.getString('origin', 'baserefspec') ?? kf.getString('origin', 'refspec');
  if (refspec === undefined || refspec === '') {
    throw new AptOstreeError('invalid-config', `${source}: no [origin] refspec or baserefspec`);
  }
  const local = (group: string, key: string): LocalPackageRef[] =>
    (kf.getStringList(group, key) ?? []).map((s) => parseLocalRef(s, `${source}: [${group}] ${key}`));
  return {
    refspec,
    overrideCommit: kf.getString('origin', 'override-commit') || undefined,
    requestedPackages: kf.getStringList('packages', 'requested') ?? [],
    requestedLocalPackages: local('packages', 'requested-local'),
    overrideRemove: kf.getStringList('overrides', 'remove') ?? [],
    overrideReplaceLocal: local('overrides', 'replace-local'),
    initramfsRegenerate: kf.getBoolean('aptostree', 'initramfs-regenerate', source) ?? false,
    initramfsArgs: kf.getStringList('aptostree', 'initramfs-args') ?? [],
    keyfile: kf,
  };
}

/** True when the origin asks for anything on top of the base commit. */
export function hasLayering(o: Origin): boolean {
  return (
    o.requestedPackages.length > 0 ||
    o.requestedLocalPackages.length > 0 ||
    o.overrideRemove.length > 0 ||
    o.overrideReplaceLocal.length > 0
  );
}

export function serializeOrigin(o: Origin): string {
  // Start from the file as read so that unknown content survives.
  const kf = o.keyfile ? KeyFile.parse(o.keyfile.toString()) : new KeyFile();
  kf.removeKey('origin', 'refspec');
  kf.removeKey('origin', 'baserefspec');
  kf.setString('origin', hasLayering(o) ? 'baserefspec' : 'refspec', o.refspec);
  if (o.overrideCommit) kf.setString('origin', 'override-commit', o.overrideCommit);
  else kf.removeKey('origin', 'override-commit');

  setListOrRemove(kf, 'packages', 'requested', o.requestedPackages);
  setListOrRemove(kf, 'packages', 'requested-local', o.requestedLocalPackages.map(formatLocalRef));
  setListOrRemove(kf, 'overrides', 'remove', o.overrideRemove);
  setListOrRemove(kf, 'overrides', 'replace-local', o.overrideReplaceLocal.map(formatLocalRef));
  if (o.initramfsRegenerate) kf.setBoolean('aptostree', 'initramfs-regenerate', true);
  else kf.removeKey('aptostree', 'initramfs-regenerate');
  setListOrRemove(kf, 'aptostree', 'initramfs-args', o.initramfsRegenerate ? o.initramfsArgs : []);
  for (const g of kf.groups()) if (kf.keys(g).length === 0) kf.removeGroup(g);
  return kf.toString();
}

function setListOrRemove(kf: KeyFile, group: string, key: string, values: readonly string[]): void {
  if (values.length > 0) kf.setStringList(group, key, values);
  else kf.removeKey(group, key);
}

export function formatLocalRef(r: LocalPackageRef): string {
  return `${r.sha256}:${r.nva}`;
}

function parseLocalRef(s: string, where: string): LocalPackageRef {
  const m = /^([0-9a-f]{64}):(.+)$/.exec(s);
  if (!m) throw new AptOstreeError('invalid-config', `${where}: "${s}" is not SHA256:NAME_VERSION_ARCH`);
  return { sha256: m[1]!, nva: m[2]! };
}

/** Split a refspec "remote:ref" into its parts (remote may be absent). */
export function splitRefspec(refspec: string): { remote?: string; ref: string } {
  const i = refspec.indexOf(':');
  if (i < 0) return { ref: refspec };
  return { remote: refspec.slice(0, i), ref: refspec.slice(i + 1) };
}
