import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeRefComponent, isPackageName, packageRef, parsePackageArg } from '../../src/engine/layering/names';
import { parseSimulation } from '../../src/engine/layering/apt';
import { addedEntries, sysusersLines } from '../../src/engine/layering/users';

describe('layering: names', () => {
  it('accepts Debian package names and refuses anything else', () => {
    for (const n of ['htop', 'libc6', 'g++', 'libstdc++6', 'python3.11', 'fx-app', 'foo:amd64']) assert.ok(isPackageName(n), n);
    for (const n of ['', 'a', '../x', '-o', 'Foo=1', 'foo;rm', 'foo bar', 'Foo', '$(x)', 'foo:', 'x/y']) assert.ok(!isPackageName(n), n);
    assert.throws(() => parsePackageArg('-o'), /not a valid package name/);
    assert.throws(() => parsePackageArg('../x'), /not a valid package name/);
    assert.throws(() => parsePackageArg('/nonexistent/x.deb'), /no such \.deb file/);
    assert.throws(() => parsePackageArg('  '), /empty package name/);
  });

  it('escapes versions into valid ref components', () => {
    assert.equal(escapeRefComponent('1:2.3~rc1+b2'), '1_3A2.3_7Erc1_2Bb2');
    assert.equal(packageRef('libstdc++6', '12.2.0-14', 'amd64'), 'aptostree/pkg/libstdc_2B_2B6/12.2.0-14_amd64');
    assert.match(packageRef('x', '1:1', 'all'), /^[\w/.-]+$/);
  });
});

describe('layering: APT simulation output', () => {
  it('parses Inst and Remv lines', () => {
    const plan = parseSimulation(
      [
        'Inst libfoo1 (1.0-1 Debian:12/stable [amd64])',
        'Inst bar [2.0] (1:2.1 127.0.0.1 [all])',
        'Inst baz (1.0 local-deb [all])',
        'Remv qux [3.0]',
        'Conf libfoo1 (1.0-1 Debian:12/stable [amd64])',
      ].join('\n'),
    );
    assert.deepEqual(
      plan.map((p) => [p.action, p.name, p.version, p.arch, p.oldVersion ?? '', p.local]),
      [
        ['install', 'libfoo1', '1.0-1', 'amd64', '', false],
        ['install', 'bar', '1:2.1', 'all', '2.0', false],
        ['install', 'baz', '1.0', 'all', '', true],
        ['remove', 'qux', '3.0', '', '3.0', false],
      ],
    );
  });
});

describe('layering: users', () => {
  it('turns users and groups added by packages into sysusers.d lines', () => {
    const before = { passwd: ['root:x:0:0:root:/root:/bin/bash'], group: ['root:x:0:'] };
    const after = {
      passwd: [...before.passwd, 'fx:x:999:999::/nonexistent:/usr/sbin/nologin'],
      group: [...before.group, 'fx:x:999:', 'fxg:x:998:'],
    };
    assert.deepEqual(sysusersLines(addedEntries(before, after)), ['g fxg 998', 'u fx 999:999 "-" /nonexistent /usr/sbin/nologin']);
  });
});
