/**
 * Hostile calls of apt-ostreed, generated from a seed (the same seed gives the
 * same calls): wrong signatures, huge arrays and strings, unknown options and
 * options of the wrong type, bad package names, refs, revisions, kernel
 * arguments and cleanup targets, unknown methods, interfaces and objects.
 * Every one of them must be refused with a D-Bus error.
 */
import { variant, type CallOptions } from '../../src/dbus/bus';

const DEST = 'org.aptostree.dev';
const PATH = '/org/aptostree/dev';
const IFACE = 'org.aptostree.dev.Daemon';

/** The changing methods and their arguments before the options (a{sv}). */
const METHODS: Array<[string, string[]]> = [
  ['InstallPackages', ['as']],
  ['RemovePackages', ['as']],
  ['UpdateOverrides', ['as', 'as', 'as']],
  ['Reset', []],
  ['RefreshMd', []],
  ['UpgradeSystem', []],
  ['DeployCommit', ['s']],
  ['Rebase', ['s']],
  ['Rollback', []],
  ['ModifyKernelArgs', ['as', 'as', 'as']],
  ['SetInitramfsState', ['b', 'as']],
  ['Cleanup', ['as']],
  ['PinDeployment', ['i']],
  ['AutomaticUpdateTrigger', []],
];

/** Strings no argument accepts: control characters, spaces, paths, options, far too long. */
const BAD_STRINGS = [
  'a\u0001b',
  'UPPER Case',
  '../../etc/shadow',
  '-o Dpkg::Options=--force-all',
  'x'.repeat(1 << 20),
  'foo;rm -rf /',
  'a\nb',
  '=x',
  'k="unbalanced',
  '\u00e9\u00e8\u2603 \u202e',
];

/** Of those, the ones that are no kernel argument either ("../x" is one). */
const BAD_KARGS = ['a\u0001b', 'UPPER Case', 'x'.repeat(1 << 20), 'a\nb', '=x', 'k="unbalanced'];

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plausible value of a D-Bus type (for arguments that are not the point of the call). */
function fine(type: string): unknown {
  switch (type) {
    case 'as':
      return [];
    case 's':
      return '';
    case 'b':
      return false;
    case 'i':
      return 0;
    default:
      return {};
  }
}

export function fuzzCalls(seed: number, count: number): CallOptions[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const calls: CallOptions[] = [];
  for (let i = 0; i < count; i++) {
    const [method, args] = pick(METHODS);
    const sig = `${args.join('')}a{sv}`;
    const base = { destination: DEST, path: PATH, interface: IFACE, member: method, timeout: 60000 };
    const kind = Math.floor(r() * 8);
    if (kind === 0) {
      // A wrong signature: the arguments shifted, or another type in place of the options.
      const wrong = pick([`${sig}s`, args.join(''), `s${sig}`, 'a{ss}', 'ii', `${args.join('')}as`]);
      const body =
        wrong === 'a{ss}'
          ? [{ a: 'b' }]
          : wrong === 'ii'
            ? [1, 2]
            : [...wrong.matchAll(/a\{sv\}|a\{ss\}|as|[sbi]/g)].map((m) => fine(m[0]));
      calls.push({ ...base, signature: wrong, body });
    } else if (kind === 1) {
      // An unknown option.
      calls.push({ ...base, signature: sig, body: [...args.map(fine), { [`fuzz-${Math.floor(r() * 1e6)}`]: variant('b', true) }] });
    } else if (kind === 2) {
      // A known option of the wrong type.
      calls.push({ ...base, signature: sig, body: [...args.map(fine), { 'dry-run': variant('s', 'yes'), queue: variant('as', ['x']) }] });
    } else if (kind === 3 && args.includes('as')) {
      // A huge array.
      const big = Array.from({ length: 5000 + Math.floor(r() * 20000) }, (_, j) => `p${j}`);
      calls.push({ ...base, signature: sig, body: [...args.map((t) => (t === 'as' ? big : fine(t))), {}] });
    } else if ((kind === 4 || kind === 5) && args.some((t) => t === 's' || t === 'as') && method !== 'SetInitramfsState') {
      // A bad name, ref, revision, kernel argument or cleanup target.
      const bad = pick(method === 'ModifyKernelArgs' ? BAD_KARGS : BAD_STRINGS);
      const at = args.findIndex((t) => t === 's' || t === 'as');
      calls.push({ ...base, signature: sig, body: [...args.map((t, j) => (j === at ? (t === 's' ? bad : [bad]) : fine(t))), {}] });
    } else if (kind === 6) {
      // Unknown method, interface or object.
      const which = Math.floor(r() * 3);
      if (which === 0) calls.push({ ...base, member: `No${method}`, signature: '' });
      else if (which === 1) calls.push({ ...base, interface: 'org.aptostree.dev.Nope', signature: sig, body: [...args.map(fine), {}] });
      else
        calls.push({
          ...base,
          path: `/org/aptostree/dev/transaction/${Math.floor(r() * 1e9)}`,
          interface: 'org.aptostree.dev.Transaction',
          member: pick(['Start', 'Cancel']),
        });
    } else {
      // Options that are not a dictionary of variants where one is expected, or a reserved key.
      calls.push({ ...base, signature: sig, body: [...args.map(fine), { '': variant('b', true) }] });
    }
  }
  return calls;
}
