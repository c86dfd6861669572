/**
 * APT "deb" sources as data: the one-line format (sources.list, *.list) and
 * deb822 (*.sources), read from an /etc/apt directory. Used by compose (the
 * build machine's sources) and by layering (a deployment's own sources).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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

/** The "deb" sources configured in an /etc/apt directory (default: this machine's). */
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
