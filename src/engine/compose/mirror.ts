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
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AptOstreeError } from '../errors';
import { log } from '../log';
import { hostSources, parseSourceLine, type AptSource } from '../tree/apt-sources';

// The compose's sources are APT sources: their model lives with the tree layout.
export { sourceLine, type AptSource } from '../tree/apt-sources';

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
