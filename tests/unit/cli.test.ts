import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invokedVerb } from '../../src/cli/main';

test('only the invoked verb is loaded; anything else loads all', () => {
  const argv = (...a: string[]): string[] => ['node', 'apt-ostree', ...a];
  assert.equal(invokedVerb(argv('status', '--json')), 'status');
  assert.equal(invokedVerb(argv('--sysroot', '/srv/s', 'install', 'htop')), 'install');
  assert.equal(invokedVerb(argv('--sysroot', 'status', 'kargs')), 'kargs'); // a sysroot named "status"
  assert.equal(invokedVerb(argv('--log-level', 'debug', 'compose', 'tree', 'x')), 'compose');
  assert.equal(invokedVerb(argv('update')), undefined); // an alias: commander resolves it
  assert.equal(invokedVerb(argv('help', 'status')), undefined);
  assert.equal(invokedVerb(argv('--help')), undefined);
  assert.equal(invokedVerb(argv()), undefined);
});
