/**
 * What a user may name on the command line for layering, checked before APT
 * ever sees it, and how package identities become OSTree ref names.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from '../errors';

/** Debian package name (policy 5.6.1), optionally ":ARCH". */
const PKG_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;

export function isPackageName(s: string): boolean {
  const i = s.indexOf(':');
  if (i < 0) return PKG_NAME.test(s);
  return PKG_NAME.test(s.slice(0, i)) && ARCH.test(s.slice(i + 1));
}

export type PackageArg = { kind: 'name'; name: string } | { kind: 'local'; path: string };

/**
 * Classify one argument: a package name, or the path of a local .deb file.
 * Anything else (empty, options, paths that are not .deb files, shell
 * characters) is refused with a usage error.
 */
export function parsePackageArg(s: string, allowLocal = true): PackageArg {
  if (s.trim() === '') throw usageError('an empty package name was given', 'name packages as they appear in APT, e.g. "htop"');
  if (allowLocal && (s.endsWith('.deb') || s.includes('/'))) {
    const p = resolve(s);
    if (s.endsWith('.deb') && existsSync(p) && statSync(p).isFile()) return { kind: 'local', path: p };
    if (s.endsWith('.deb')) throw usageError(`no such .deb file: ${p}`);
  }
  if (!isPackageName(s)) {
    throw usageError(
      `"${s}" is not a valid package name`,
      'package names are lower-case letters, digits and + - . (e.g. "libfoo1"); a local package is given as the path of a .deb file',
    );
  }
  return { kind: 'name', name: s };
}

/** Escape a string into one valid OSTree ref component: anything but [A-Za-z0-9.-] becomes _XX (hex). */
export function escapeRefComponent(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9.-]/.test(c)) out += c;
    else out += `_${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // A component must start with a letter, digit or underscore.
  return /^[A-Za-z0-9_]/.test(out) ? out : `_${out}`;
}

export const PKG_REF_PREFIX = 'aptostree/pkg';

/** The ref of an imported package: aptostree/pkg/NAME/VERSION_ARCH (escaped). */
export function packageRef(name: string, version: string, arch: string): string {
  return `${PKG_REF_PREFIX}/${escapeRefComponent(name)}/${escapeRefComponent(version)}_${escapeRefComponent(arch)}`;
}

/** NAME_VERSION_ARCH as in origin local references. */
export function nva(name: string, version: string, arch: string): string {
  return `${name}_${version}_${arch}`;
}
