/**
 * Where packages come from: the APT sources of a compose, and the archive's
 * release indexes (InRelease/Release) that make up part of its inputs.
 *
 * A treefile's `mirror` is a URI (used with its suite and components) or a
 * one-line "deb [options] URI SUITE COMPONENT..." entry. Without `mirror`,
 * the sources are this machine's own APT sources (deb822
 * /etc/apt/sources.list.d/*.sources, one-line /etc/apt/sources.list and
 * *.list), as mmdebstrap does: each entry's suites are mapped onto the
 * treefile's suite, keeping their suffix (bookworm -> SUITE,
 * bookworm-updates -> SUITE-updates, bookworm-security -> SUITE-security).
 * Derived -updates/-security suites that the mirror does not have are left
 * out; the main suite must exist.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AptOstreeError } from '../errors';
import { log } from '../log';

export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
  /** Options in brackets, as "key=value" (e.g. signed-by=..., trusted=yes). */
  options: string[];
  /** True when the treefile did not name it (derived -updates/-security). */
  optional?: boolean;
}

/** The one-line sources.list entry of a source. */
export function sourceLine(s: AptSource): string {
  const opts = s.options.length > 0 ? ` [${s.options.join(' ')}]` : '';
  return `deb${opts} ${s.uri} ${s.suite}${s.suite.endsWith('/') ? '' : ' ' + s.components.join(' ')}`.trimEnd();
}

/** Parse a one-line "deb [opts] URI SUITE COMP..." entry. */
export function parseSourceLine(line: string): AptSource | undefined {
  const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const options = (m[1] ?? '').split(/\s+/).filter((o) => o !== '');
  const components = (m[4] ?? '').split(/\s+/).filter((c) => c !== '');
  return { uri: m[2], suite: m[3], components, options };
}

/** This machine's APT "deb" sources. */
export function hostSources(etcApt = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const list = join(etcApt, 'sources.list');
  if (existsSync(list)) out.push(...parseOneLineFile(readFileSync(list, 'utf8')));
  const dir = join(etcApt, 'sources.list.d');
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (f.endsWith('.list')) out.push(...parseOneLineFile(readFileSync(p, 'utf8')));
      else if (f.endsWith('.sources')) out.push(...parseDeb822Sources(readFileSync(p, 'utf8')));
    }
  }
  return out;
}

function parseOneLineFile(text: string): AptSource[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.startsWith('deb ') || l.startsWith('deb\t'))
    .map((l) => parseSourceLine(l))
    .filter((s): s is AptSource => s !== undefined);
}

/** deb822 sources: stanzas of Types, URIs, Suites, Components, Signed-By, Enabled. */
export function parseDeb822Sources(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last !== undefined) {
        fields.set(last, `${fields.get(last) ?? ''}\n${raw.trim()}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (m) {
        last = m[1].toLowerCase();
        fields.set(last, m[2].trim());
      }
    }
    const words = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter((w) => w !== '');
    if (!words('types').includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const options: string[] = [];
    const signedBy = fields.get('signed-by');
    // An inline key block cannot go into a one-line entry; a key file path can.
    if (signedBy && !signedBy.includes('\n') && signedBy.startsWith('/')) options.push(`signed-by=${signedBy}`);
    if (fields.has('trusted')) options.push(`trusted=${fields.get('trusted')}`);
    for (const uri of words('uris')) {
      for (const suite of words('suites')) out.push({ uri, suite, components: words('components'), options });
    }
  }
  return out;
}

/** The sources of a compose of `suite`. */
export function resolveSources(mirrors: readonly string[], suite: string, components: readonly string[], etcApt = '/etc/apt'): AptSource[] {
  if (mirrors.length > 0) {
    return mirrors.map((m) => {
      if (/^deb\s/.test(m)) {
        const s = parseSourceLine(m);
        if (!s) throw new AptOstreeError('invalid-config', `mirror entry "${m}" is not a valid one-line sources entry`);
        return s;
      }
      return { uri: m, suite, components: [...components], options: [] };
    });
  }
  const host = hostSources(etcApt);
  if (host.length === 0) {
    throw new AptOstreeError('invalid-config', `no mirror in the treefile and no APT sources on this machine (${etcApt})`, {
      hint: 'add "mirror: URI" to the treefile',
    });
  }
  // The host's distribution: the codename of its first entry; other
  // (third-party) entries are not the Debian archive and are left out.
  const primary = host[0].suite.split('-')[0];
  const out: AptSource[] = [];
  const seen = new Set<string>();
  for (const h of host) {
    if (h.suite.split('-')[0] !== primary || h.suite.endsWith('/')) continue;
    const dash = h.suite.indexOf('-');
    const suffix = dash > 0 ? h.suite.slice(dash) : '';
    const s: AptSource = { uri: h.uri, suite: suite + suffix, components: [...components], options: h.options, optional: suffix !== '' };
    const key = `${s.uri} ${s.suite}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
  }
  return out;
}

/** Base URL of a suite's dists directory ("URI/dists/SUITE/", or the flat "URI/SUITE"). */
function releaseBase(s: AptSource): string {
  const uri = s.uri.endsWith('/') ? s.uri : `${s.uri}/`;
  return s.suite.endsWith('/') ? `${uri}${s.suite === './' ? '' : s.suite}` : `${uri}dists/${s.suite}/`;
}

export interface ReleaseIndex {
  source: AptSource;
  url: string;
  text: string;
  sha256: string;
}

/**
 * Fetch InRelease (or Release) of a source: from a file: URI by reading it,
 * otherwise over HTTP(S) with Node's fetch. Undefined when the source is
 * optional and absent; an error naming the suite and mirror otherwise.
 */
export async function fetchReleaseIndex(s: AptSource, signal?: AbortSignal): Promise<ReleaseIndex | undefined> {
  const base = releaseBase(s);
  const reasons: string[] = [];
  for (const name of ['InRelease', 'Release']) {
    const url = base + name;
    try {
      let text: string | undefined;
      if (url.startsWith('file:')) {
        const p = fileURLToPath(url);
        if (existsSync(p)) text = readFileSync(p, 'utf8');
        else reasons.push(`${url}: no such file`);
      } else {
        const timeout = AbortSignal.timeout(30000);
        const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
        if (res.ok) text = await res.text();
        else reasons.push(`${url}: HTTP ${res.status}`);
      }
      if (text !== undefined) return { source: s, url, text, sha256: createHash('sha256').update(text).digest('hex') };
    } catch (e) {
      if (signal?.aborted) throw e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      reasons.push(`${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
  }
  if (s.optional) {
    log.info(`leaving out ${s.uri} ${s.suite}: ${reasons.join('; ')}`);
    return undefined;
  }
  throw new AptOstreeError('network', `cannot fetch suite "${s.suite}" from mirror ${s.uri}`, {
    details: reasons.join('\n'),
    hint: 'check the suite name, the mirror URI and the network',
  });
}

/**
 * Whether a release index is a security archive: its Suite or Codename ends
 * in "-security", or its Label contains "Security" (Debian's is
 * "Debian-Security"). Packages whose installed version is listed by such a
 * source are what META_SECURITY_UPDATES records.
 */
export function isSecurityRelease(text: string): boolean {
  const field = (k: string): string => {
    const m = new RegExp(`^${k}:\\s*(.*)$`, 'mi').exec(text);
    return m ? m[1].trim() : '';
  };
  return field('Suite').endsWith('-security') || field('Codename').endsWith('-security') || /security/i.test(field('Label'));
}
