/**
 * GLib key files (the format of OSTree origin files and of apt-ostreed.conf),
 * read and written with GLib's rules: `[group]`, `key=value`, `#` comments only
 * at the start of a line, escapes \s \n \t \r \\ in values, lists separated
 * by `;` with `\;` for a literal separator. Nothing on npm reads this format
 * correctly (see shared/notes/libraries.md), so it lives here, tested against
 * GLib's own reader.
 */
import { AptOstreeError } from './errors';

interface Entry {
  key: string;
  value: string; // raw (escaped) text as it stands in the file
}

export class KeyFile {
  private readonly groupsInOrder: string[] = [];
  private readonly data = new Map<string, Entry[]>();

  /** Parse `text`; `source` names the file in error messages. */
  static parse(text: string, source = 'key file'): KeyFile {
    const kf = new KeyFile();
    let group: string | undefined;
    const lines = text.split('\n');
    lines.forEach((rawLine, i) => {
      const line = rawLine.replace(/\r$/, '');
      const trimmed = line.trimStart();
      if (trimmed === '' || trimmed.startsWith('#')) return;
      if (trimmed.startsWith('[')) {
        const end = trimmed.lastIndexOf(']');
        if (end < 0 || trimmed.slice(end + 1).trim() !== '') {
          throw new AptOstreeError('invalid-config', `${source}:${i + 1}: invalid group header: ${line}`);
        }
        group = trimmed.slice(1, end);
        if (group === '' || /[[\]]/.test(group)) {
          throw new AptOstreeError('invalid-config', `${source}:${i + 1}: invalid group name: ${line}`);
        }
        kf.ensureGroup(group);
        return;
      }
      const eq = line.indexOf('=');
      if (eq < 0) throw new AptOstreeError('invalid-config', `${source}:${i + 1}: expected key=value, got: ${line}`);
      if (group === undefined) {
        throw new AptOstreeError('invalid-config', `${source}:${i + 1}: key outside of any [group]: ${line}`);
      }
      const key = line.slice(0, eq).trim();
      if (key === '') throw new AptOstreeError('invalid-config', `${source}:${i + 1}: empty key`);
      const value = line.slice(eq + 1).replace(/^[ \t]+/, '');
      kf.setRaw(group, key, value);
    });
    return kf;
  }

  groups(): string[] {
    return [...this.groupsInOrder];
  }

  hasGroup(group: string): boolean {
    return this.data.has(group);
  }

  keys(group: string): string[] {
    return (this.data.get(group) ?? []).map((e) => e.key);
  }

  getString(group: string, key: string): string | undefined {
    const raw = this.getRaw(group, key);
    return raw === undefined ? undefined : unescapeValue(raw);
  }

  getStringList(group: string, key: string): string[] | undefined {
    const raw = this.getRaw(group, key);
    if (raw === undefined) return undefined;
    return splitList(raw);
  }

  getBoolean(group: string, key: string, source = 'key file'): boolean | undefined {
    const raw = this.getRaw(group, key);
    if (raw === undefined) return undefined;
    const v = raw.trim();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new AptOstreeError('invalid-config', `${source}: [${group}] ${key}=${v} is not a boolean (true or false)`);
  }

  setString(group: string, key: string, value: string): void {
    this.setRaw(group, key, escapeValue(value, false));
  }

  setStringList(group: string, key: string, values: readonly string[]): void {
    this.setRaw(group, key, values.map((v) => escapeValue(v, true) + ';').join(''));
  }

  setBoolean(group: string, key: string, value: boolean): void {
    this.setRaw(group, key, value ? 'true' : 'false');
  }

  removeKey(group: string, key: string): void {
    const entries = this.data.get(group);
    if (!entries) return;
    const i = entries.findIndex((e) => e.key === key);
    if (i >= 0) entries.splice(i, 1);
  }

  removeGroup(group: string): void {
    if (!this.data.delete(group)) return;
    this.groupsInOrder.splice(this.groupsInOrder.indexOf(group), 1);
  }

  toString(): string {
    const out: string[] = [];
    for (const g of this.groupsInOrder) {
      if (out.length > 0) out.push('');
      out.push(`[${g}]`);
      for (const e of this.data.get(g) ?? []) out.push(`${e.key}=${e.value}`);
    }
    return out.join('\n') + '\n';
  }

  private ensureGroup(group: string): Entry[] {
    let entries = this.data.get(group);
    if (!entries) {
      entries = [];
      this.data.set(group, entries);
      this.groupsInOrder.push(group);
    }
    return entries;
  }

  private getRaw(group: string, key: string): string | undefined {
    // GLib keeps the last value when a key repeats.
    const entries = this.data.get(group);
    if (!entries) return undefined;
    for (let i = entries.length - 1; i >= 0; i--) if (entries[i]!.key === key) return entries[i]!.value;
    return undefined;
  }

  private setRaw(group: string, key: string, value: string): void {
    const entries = this.ensureGroup(group);
    const existing = entries.find((e) => e.key === key);
    if (existing) existing.value = value;
    else entries.push({ key, value });
  }
}

function unescapeValue(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\' || i + 1 >= raw.length) {
      out += c;
      continue;
    }
    const n = raw[++i]!;
    out += n === 's' ? ' ' : n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '\\' ? '\\' : n === ';' ? '\\;' : '\\' + n;
  }
  return out;
}

function splitList(raw: string): string[] {
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length) {
      const n = raw[++i]!;
      cur += n === ';' ? ';' : n === 's' ? ' ' : n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : n === '\\' ? '\\' : '\\' + n;
    } else if (c === ';') {
      items.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') items.push(cur);
  return items;
}

function escapeValue(v: string, inList: boolean): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === ' ' && i === 0) out += '\\s';
    else if (c === ';' && inList) out += '\\;';
    else out += c;
  }
  return out;
}
