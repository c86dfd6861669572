/**
 * The key-file reader and writer against GLib's own (GLib.KeyFile through
 * python3-gi): what one writes, the other must read back the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { KeyFile } from '../../src/engine/keyfile';
import { AptOstreeError } from '../../src/engine/errors';

const PY = '/usr/bin/python3';

const GLIB_READ = `
import sys, json, gi
gi.require_version('GLib', '2.0')
from gi.repository import GLib
req = json.load(sys.stdin)
k = GLib.KeyFile()
data = req['text']
k.load_from_data(data, len(data.encode()), GLib.KeyFileFlags.NONE)
out = {}
for g, key, kind in req['ask']:
    out[g + '/' + key] = k.get_string_list(g, key) if kind == 'list' else k.get_string(g, key)
print(json.dumps(out))
`;

const GLIB_WRITE = `
import sys, json, gi
gi.require_version('GLib', '2.0')
from gi.repository import GLib
req = json.load(sys.stdin)
k = GLib.KeyFile()
for g, key, kind, v in req['set']:
    if kind == 'list': k.set_string_list(g, key, v)
    else: k.set_string(g, key, v)
print(k.to_data()[0], end='')
`;

function python(script: string, input: unknown): string {
  const r = spawnSync(PY, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const STRINGS = [
  'plain',
  ' leading space',
  'trailing space ',
  'tab\there',
  'new\nline',
  'back\\slash',
  'semi;colon',
  'hash # not a comment',
  '=equals=',
  'ünïcödé',
];
const LISTS: string[][] = [['htop', 'curl'], [], ['a;b', ' c', 'd\\e'], ['x'], ['sha256:0123;', 'two words']];

test('GLib reads what KeyFile writes', () => {
  const kf = new KeyFile();
  const ask: [string, string, string][] = [];
  STRINGS.forEach((s, i) => {
    kf.setString('strings', `s${i}`, s);
    ask.push(['strings', `s${i}`, 'string']);
  });
  LISTS.forEach((l, i) => {
    kf.setStringList('lists', `l${i}`, l);
    ask.push(['lists', `l${i}`, 'list']);
  });
  const got = JSON.parse(python(GLIB_READ, { text: kf.toString(), ask })) as Record<string, unknown>;
  STRINGS.forEach((s, i) => assert.equal(got[`strings/s${i}`], s, `string ${JSON.stringify(s)}`));
  LISTS.forEach((l, i) => assert.deepEqual(got[`lists/l${i}`], l, `list ${JSON.stringify(l)}`));
});

test('KeyFile reads what GLib writes', () => {
  const set: [string, string, string, unknown][] = [];
  STRINGS.forEach((s, i) => set.push(['strings', `s${i}`, 'string', s]));
  LISTS.forEach((l, i) => set.push(['lists', `l${i}`, 'list', l]));
  const text = python(GLIB_WRITE, { set });
  const kf = KeyFile.parse(text);
  STRINGS.forEach((s, i) => assert.equal(kf.getString('strings', `s${i}`), s));
  LISTS.forEach((l, i) => assert.deepEqual(kf.getStringList('lists', `l${i}`), l));
});

test('group names with spaces and dots, comments, and repeated keys read as GLib does', () => {
  const text =
    '# top comment\n[remote "example.remote"]\nurl=http://127.0.0.1:8080/repo\n  # indented comment\nurl=second\n\n[origin]\nrefspec=debian:debian/bookworm/x86_64\n';
  const kf = KeyFile.parse(text);
  const got = JSON.parse(
    python(GLIB_READ, {
      text,
      ask: [
        ['remote "example.remote"', 'url', 'string'],
        ['origin', 'refspec', 'string'],
      ],
    }),
  ) as Record<string, unknown>;
  assert.equal(kf.getString('remote "example.remote"', 'url'), got['remote "example.remote"/url']);
  assert.equal(kf.getString('origin', 'refspec'), got['origin/refspec']);
  assert.deepEqual(kf.groups(), ['remote "example.remote"', 'origin']);
});

test('booleans: true/false/1/0, anything else is an error naming the key', () => {
  const kf = KeyFile.parse('[a]\nx=true\ny=0\nz=yes\n');
  assert.equal(kf.getBoolean('a', 'x'), true);
  assert.equal(kf.getBoolean('a', 'y'), false);
  assert.throws(
    () => kf.getBoolean('a', 'z', 'test.conf'),
    (e: unknown) => e instanceof AptOstreeError && /test\.conf.*\[a\] z=yes/.test(e.message),
  );
});

test('malformed input is an error with file and line', () => {
  assert.throws(() => KeyFile.parse('key=before-group\n', 'f.origin'), /f\.origin:1: key outside of any \[group\]/);
  assert.throws(() => KeyFile.parse('[ok]\njust text\n', 'f.origin'), /f\.origin:2: expected key=value/);
  assert.throws(() => KeyFile.parse('[broken\n', 'f.origin'), /f\.origin:1: invalid group header/);
});

test('unknown content survives a rewrite', () => {
  const kf = KeyFile.parse('[x]\na=1\n[y]\nb=2\n');
  kf.setString('x', 'c', '3');
  kf.removeKey('y', 'b');
  assert.equal(kf.toString(), '[x]\na=1\nc=3\n\n[y]\n');
});
