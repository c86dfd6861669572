import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTreefile, normalizeTreefile, parseTreefile } from '../../src/engine/treefile';
import { isAptOstreeError } from '../../src/engine/errors';
import { isSecurityRelease, resolveSources } from '../../src/engine/compose/mirror';
import { parseDeb822Sources, parseSourceLine, sourceLine } from '../../src/engine/tree/apt-sources';
import { parsePackageList } from '../../src/engine/ostree/metadata';
import { packagesJson } from '../../src/engine/ostree/repo';

const FILE = '/srv/trees/base.yaml';

function parseError(text: string): string {
  try {
    parseTreefile(text, FILE);
  } catch (e) {
    assert.ok(isAptOstreeError(e), 'a typed error');
    assert.equal(e.code, 'invalid-config');
    return e.message;
  }
  assert.fail('expected an error');
}

test('a full treefile parses', () => {
  const t = parseTreefile(
    [
      'ref: debian/bookworm/x86_64/base',
      'version: 12.1',
      'suite: bookworm',
      'mirror: http://127.0.0.1:8080/debian',
      'components: [main, contrib]',
      'variant: minbase',
      'packages: [apt, dpkg, "libc6=2.36-9"]',
      'kernel: linux-image-amd64',
      'local-packages: [pkgs/apt-ostree_0.1.0_all.deb, /abs/x.deb]',
      'architecture: amd64',
    ].join('\n'),
    FILE,
  );
  assert.equal(t.ref, 'debian/bookworm/x86_64/base');
  assert.equal(t.version, '12.1');
  assert.equal(t.suite, 'bookworm');
  assert.deepEqual(t.mirrors, ['http://127.0.0.1:8080/debian']);
  assert.deepEqual(t.components, ['main', 'contrib']);
  assert.equal(t.variant, 'minbase');
  assert.deepEqual(t.packages, ['apt', 'dpkg', 'libc6=2.36-9']);
  assert.equal(t.kernel, 'linux-image-amd64');
  assert.deepEqual(t.localPackages, ['/srv/trees/pkgs/apt-ostree_0.1.0_all.deb', '/abs/x.deb']);
  assert.equal(t.architecture, 'amd64');
});

test('defaults: components main, variant minbase, no mirror, no packages', () => {
  const t = parseTreefile('ref: a/b\nsuite: bookworm\nkernel: placeholder\n', FILE);
  assert.deepEqual(t.components, ['main']);
  assert.equal(t.variant, 'minbase');
  assert.deepEqual(t.mirrors, []);
  assert.deepEqual(t.packages, []);
  assert.deepEqual(t.localPackages, []);
  assert.equal(t.version, undefined);
});

test('a list of mirrors, including one-line entries', () => {
  const t = parseTreefile(
    'ref: a\nsuite: bookworm\nkernel: placeholder\nmirror:\n  - file:///srv/mirror\n  - "deb [trusted=yes] http://127.0.0.1:1/sec bookworm-security main"\n',
    FILE,
  );
  assert.equal(t.mirrors.length, 2);
});

test('missing fields are named, with the file', () => {
  for (const f of ['ref', 'suite', 'kernel']) {
    const all: Record<string, string> = { ref: 'ref: a/b', suite: 'suite: bookworm', kernel: 'kernel: placeholder' };
    delete all[f];
    const msg = parseError(Object.values(all).join('\n'));
    assert.match(msg, new RegExp(`missing required field "${f}"`));
    assert.ok(msg.includes(FILE), msg);
  }
});

test('wrong types name the field, the file and the line', () => {
  const msg = parseError('ref: a/b\nsuite: bookworm\nkernel: placeholder\npackages: apt\n');
  assert.match(msg, /field "packages" must be a list of strings, not a string/);
  assert.ok(msg.includes(`${FILE}:4`), msg);
  assert.match(parseError('ref: [a]\nsuite: bookworm\nkernel: placeholder\n'), /field "ref" must be a string, not a list/);
  assert.match(
    parseError('ref: a\nsuite: bookworm\nkernel: placeholder\npackages: [apt, 3]\n'),
    /field "packages" item 2 must be a string, not a number/,
  );
  assert.match(parseError('ref: a\nsuite: bookworm\nkernel: placeholder\nvariant: tiny\n'), /field "variant" must be one of/);
  assert.match(parseError('ref: a\nsuite: bookworm\nkernel: placeholder\nmirror: not a uri\n'), /field "mirror"/);
  assert.match(parseError('ref: a\nsuite: bookworm\nkernel: placeholder\nlocal-packages: [x.tar]\n'), /not a .deb file/);
  assert.match(parseError('ref: a\nsuite: bookworm\nkernel: placeholder\ncomponents: []\n'), /"components" must not be empty/);
  assert.match(parseError('ref: a\nsuite: bookworm\nkernel: "Bad Name"\n'), /field "kernel" has an invalid value/);
});

test('unknown keys, duplicates, non-mappings and bad YAML are errors', () => {
  const msg = parseError('ref: a\nsuite: bookworm\nkernel: placeholder\npackage: [apt]\n');
  assert.match(msg, /unknown field "package"/);
  assert.ok(msg.includes(`${FILE}:4`), msg);
  assert.match(parseError('ref: a\nref: b\nsuite: s\nkernel: placeholder\n'), /invalid YAML/);
  assert.match(parseError('- a\n- b\n'), /must be a mapping/);
  assert.match(parseError('ref: [a\n'), /invalid YAML/);
});

test('loadTreefile: a missing file says so', () => {
  assert.throws(() => loadTreefile('/nonexistent/tree.yaml'), /cannot read treefile \/nonexistent\/tree.yaml: no such file/);
  const d = mkdtempSync(join(tmpdir(), 'tf-'));
  try {
    writeFileSync(join(d, 't.yaml'), 'ref: a\nsuite: bookworm\nkernel: placeholder\nlocal-packages: [x.deb]\n');
    const t = loadTreefile(join(d, 't.yaml'));
    assert.deepEqual(t.localPackages, [join(d, 'x.deb')]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('normalizeTreefile ignores the path and formatting', () => {
  const a = parseTreefile('ref: a\nsuite: bookworm\nkernel: placeholder\n', '/x/a.yaml');
  const b = parseTreefile('# comment\nkernel: "placeholder"\nsuite: bookworm\nref: a\n', '/y/b.yaml');
  assert.equal(normalizeTreefile(a), normalizeTreefile(b));
  const c = parseTreefile('ref: a\nsuite: bookworm\nkernel: placeholder\npackages: [hello]\n', '/x/a.yaml');
  assert.notEqual(normalizeTreefile(a), normalizeTreefile(c));
});

test('sources: deb822 and one-line entries, default mapped onto the suite', () => {
  const d = mkdtempSync(join(tmpdir(), 'apt-'));
  try {
    mkdirSync(join(d, 'sources.list.d'));
    writeFileSync(
      join(d, 'sources.list.d', 'debian.sources'),
      'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb-src\nURIs: http://x/y\nSuites: bookworm\nComponents: main\n',
    );
    const srcs = resolveSources([], 'trixie', ['main', 'contrib'], d);
    assert.deepEqual(
      srcs.map((s) => sourceLine(s)),
      [
        'deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian trixie main contrib',
        'deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian trixie-updates main contrib',
        'deb http://mirror.example/debian-security trixie-security main contrib',
      ],
    );
    assert.deepEqual(
      srcs.map((s) => s.optional === true),
      [false, true, true],
    );
    assert.equal(parseDeb822Sources('Types: deb\nEnabled: no\nURIs: a\nSuites: b\n').length, 0);
    const explicit = resolveSources(
      ['http://127.0.0.1:9/debian', 'deb [trusted=yes] file:///srv/sec bookworm-security main'],
      'bookworm',
      ['main'],
      d,
    );
    assert.deepEqual(explicit.map(sourceLine), [
      'deb http://127.0.0.1:9/debian bookworm main',
      'deb [trusted=yes] file:///srv/sec bookworm-security main',
    ]);
    assert.deepEqual(parseSourceLine('deb http://a/b ./'), { uri: 'http://a/b', suite: './', components: [], options: [] });
    assert.throws(() => resolveSources([], 'bookworm', ['main'], join(d, 'empty')), /no APT sources on this machine/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('security releases', () => {
  assert.ok(isSecurityRelease('Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\nCodename: bookworm-security\n'));
  assert.ok(isSecurityRelease('Origin: Local\nLabel: Local\nSuite: bookworm-security\n'));
  assert.ok(!isSecurityRelease('Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: bookworm\n'));
  assert.ok(!isSecurityRelease('Origin: Debian\nLabel: Debian\nSuite: stable-updates\nCodename: bookworm-updates\n'));
});

test('the package list of commit metadata: encoded sorted, parsed back, malformed entries refused', () => {
  const json = packagesJson([
    { name: 'b', version: '1', arch: 'all' },
    { name: 'a', version: '2:1.0~rc1', arch: 'amd64' },
  ]);
  assert.equal(json, '[["a","2:1.0~rc1","amd64"],["b","1","all"]]');
  assert.deepEqual(parsePackageList(json, 'x')[0], { name: 'a', version: '2:1.0~rc1', arch: 'amd64' });
  assert.throws(() => parsePackageList('[["a"]]', 'x'), /entry 0 of aptostree.packages is not \[name, version, arch\]/);
});
