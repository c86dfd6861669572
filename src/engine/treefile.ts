/**
 * Treefiles: the YAML description of a tree that `compose tree` builds.
 *
 *   ref: debian/bookworm/x86_64/minbase   # OSTree branch to commit to (required)
 *   version: "12.1"                       # optional; default date-based YYYYMMDD.N
 *   suite: bookworm                       # Debian suite or codename (required)
 *   mirror: <URI> | "deb [opts] URI SUITE COMP..." | [ ...those... ]
 *                                         # optional; default: this machine's APT sources
 *   components: [main]                    # optional; default [main]
 *   variant: minbase                      # mmdebstrap variant; default minbase
 *   packages: [apt, dpkg]                 # optional; extra packages
 *   kernel: placeholder | linux-image-amd64   # required
 *   local-packages: [./foo_1.0_all.deb]  # optional; .deb files, relative to the treefile
 *   architecture: amd64                   # optional; default: dpkg's native architecture
 *
 * The file is validated strictly, once, here: unknown keys and wrongly typed
 * values are errors that name the field and the file (and the line).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as YAML from 'yaml';
import { AptOstreeError } from './errors';

export const VARIANTS = [
  'extract',
  'custom',
  'essential',
  'apt',
  'required',
  'minbase',
  'buildd',
  'important',
  'debootstrap',
  'standard',
] as const;
export type Variant = (typeof VARIANTS)[number];

export interface Treefile {
  /** Absolute path of the file it was read from ("<string>" when parsed from text). */
  path: string;
  ref: string;
  version?: string;
  suite: string;
  /** Mirror URIs or one-line sources entries; empty = this machine's APT sources. */
  mirrors: string[];
  components: string[];
  variant: Variant;
  packages: string[];
  /** A Debian kernel package name, or 'placeholder'. */
  kernel: string;
  /** Absolute paths of local .deb files. */
  localPackages: string[];
  architecture?: string;
}

export const KERNEL_PLACEHOLDER = 'placeholder';

const KEYS = [
  'ref',
  'version',
  'suite',
  'mirror',
  'components',
  'variant',
  'packages',
  'kernel',
  'local-packages',
  'architecture',
] as const;
type Key = (typeof KEYS)[number];

/** Read and validate a treefile. */
export function loadTreefile(path: string): Treefile {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AptOstreeError(
      code === 'ENOENT' ? 'not-found' : 'invalid-config',
      `cannot read treefile ${abs}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  return parseTreefile(text, abs);
}

// Package names per Debian policy, optionally with apt's =version or /suite suffix.
const PKG_RE = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?([=/][A-Za-z0-9.+~:_-]+)?$/;
const REF_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const SUITE_RE = /^[A-Za-z0-9._/-]+$/;

/** Parse a treefile's text; `file` names it in errors and anchors relative paths. */
export function parseTreefile(text: string, file: string): Treefile {
  const lc = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const err = (msg: string, offset?: number): AptOstreeError => {
    const where = offset === undefined ? file : `${file}:${lc.linePos(offset).line}`;
    return new AptOstreeError('invalid-config', `treefile ${where}: ${msg}`, {
      hint: 'fix the treefile; see the comment in src/engine/treefile.ts for its fields',
    });
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw err(`invalid YAML: ${e.message.split('\n')[0]}`, e.pos[0]);
  }
  if (!YAML.isMap(doc.contents)) throw err('the document must be a mapping of fields (ref, suite, kernel, ...)');

  const fields = new Map<Key, { value: unknown; offset?: number }>();
  for (const pair of doc.contents.items) {
    const keyNode = pair.key;
    const keyName = YAML.isScalar(keyNode) ? keyNode.value : undefined;
    const off = YAML.isNode(keyNode) ? keyNode.range?.[0] : undefined;
    if (typeof keyName !== 'string') throw err('field names must be strings', off);
    if (!(KEYS as readonly string[]).includes(keyName)) throw err(`unknown field "${keyName}" (known: ${KEYS.join(', ')})`, off);
    const valueNode = pair.value;
    const value: unknown = YAML.isNode(valueNode) ? valueNode.toJSON() : valueNode;
    fields.set(keyName as Key, { value, offset: YAML.isNode(valueNode) ? valueNode.range?.[0] : off });
  }

  const str = (k: Key, required: boolean, re?: RegExp): string | undefined => {
    const f = fields.get(k);
    if (f === undefined || f.value === null) {
      if (required) throw err(`missing required field "${k}"`);
      return undefined;
    }
    // Numbers are accepted for version ("12.1" written without quotes).
    if (k === 'version' && typeof f.value === 'number') return String(f.value);
    if (typeof f.value !== 'string') throw err(`field "${k}" must be a string, not ${typeName(f.value)}`, f.offset);
    if (f.value.trim() === '') throw err(`field "${k}" must not be empty`, f.offset);
    if (re && !re.test(f.value)) throw err(`field "${k}" has an invalid value "${f.value}"`, f.offset);
    return f.value;
  };
  const list = (k: Key, re?: RegExp, allowString = false): string[] | undefined => {
    const f = fields.get(k);
    if (f === undefined || f.value === null) return undefined;
    const v = allowString && typeof f.value === 'string' ? [f.value] : f.value;
    if (!Array.isArray(v)) throw err(`field "${k}" must be a list of strings, not ${typeName(f.value)}`, f.offset);
    return v.map((item, i) => {
      if (typeof item !== 'string') throw err(`field "${k}" item ${i + 1} must be a string, not ${typeName(item)}`, f.offset);
      if (item.trim() === '') throw err(`field "${k}" item ${i + 1} must not be empty`, f.offset);
      if (re && !re.test(item)) throw err(`field "${k}" item ${i + 1} has an invalid value "${item}"`, f.offset);
      return item;
    });
  };

  const ref = str('ref', true, REF_RE) as string;
  const suite = str('suite', true, SUITE_RE) as string;
  const kernel = str('kernel', true, PKG_RE) as string;
  const version = str('version', false, /^[A-Za-z0-9.+~:_-]+$/);
  const variantStr = str('variant', false) ?? 'minbase';
  if (!(VARIANTS as readonly string[]).includes(variantStr)) {
    throw err(`field "variant" must be one of ${VARIANTS.join(', ')}, not "${variantStr}"`, fields.get('variant')?.offset);
  }
  const architecture = str('architecture', false, /^[a-z0-9-]+$/);
  const mirrors = list('mirror', undefined, true) ?? [];
  for (const m of mirrors) {
    if (!/^deb\s/.test(m) && !/^[a-z][a-z0-9+.-]*:\/\/?\S+$/.test(m)) {
      throw err(`field "mirror": "${m}" is neither a URI nor a one-line "deb ..." sources entry`, fields.get('mirror')?.offset);
    }
  }
  const components = list('components', /^[A-Za-z0-9._/-]+$/) ?? ['main'];
  if (components.length === 0) throw err('field "components" must not be empty', fields.get('components')?.offset);
  const packages = list('packages', PKG_RE) ?? [];
  const base = dirname(file);
  const localPackages = (list('local-packages') ?? []).map((p) => {
    if (!p.endsWith('.deb')) throw err(`field "local-packages": "${p}" is not a .deb file`, fields.get('local-packages')?.offset);
    return isAbsolute(p) ? p : resolve(base, p);
  });

  return {
    path: file,
    ref,
    version,
    suite,
    mirrors,
    components,
    variant: variantStr as Variant,
    packages,
    kernel,
    localPackages,
    architecture,
  };
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

/** The treefile as a canonical JSON text (for the inputs checksum): no path, sorted lists kept in order. */
export function normalizeTreefile(t: Treefile): string {
  const { path: _path, localPackages: _lp, ...rest } = t;
  void _path;
  void _lp;
  return JSON.stringify(rest, Object.keys(rest).sort());
}
