/**
 * countme against a loopback HTTP server started here: one request per 7-day
 * window and endpoint, none again in the same window, one in the next; none
 * when opted out or with no endpoint; an unreachable endpoint is logged and
 * retried; the request carries nothing that identifies the machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import {
  ageBucket,
  osVersionFromOsRelease,
  parseCountmeConfig,
  runCountme,
  windowIndex,
  windowStart,
  type CountmeConfig,
} from '../../src/engine/countme';
import { KeyFile } from '../../src/engine/keyfile';
import { CLI, removeTree, tmpdir } from '../lib/env';
import { miniSysroot, type MiniSysroot } from '../lib/mini-sysroot';

interface Seen {
  line: string;
  rawHeaders: string[];
}

let server: Server;
let port = 0;
let seen: Seen[] = [];
let dir: string;
let s: MiniSysroot;
const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n';

before(async () => {
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ line: `${req.method} ${req.url} HTTP/${req.httpVersion}`, rawHeaders: req.rawHeaders });
    res.writeHead(req.url?.startsWith('/fail') ? 503 : 200, { 'content-type': 'text/plain' }).end('ok\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  dir = tmpdir('countme');
  s = miniSysroot('countme-sysroot');
  s.deploy(s.commit('12.7'), '[origin]\nrefspec=debian:debian/12/x86_64/test\n');
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  removeTree(dir);
  s.cleanup();
});

beforeEach(() => {
  seen = [];
});

const endpoint = (): string => `http://127.0.0.1:${port}/metalink?repo=debian-12`;
const cfg = (over: Partial<CountmeConfig> = {}): CountmeConfig => ({ enabled: true, endpoints: [endpoint()], ...over });
// A Monday, 10:00 UTC.
const T0 = new Date('2025-03-03T10:00:00Z');
const days = (n: number): Date => new Date(T0.getTime() + n * 86400 * 1000);

test('windows are 7 days starting on Mondays; age buckets step at 2, 5 and 25 windows', () => {
  assert.equal(windowStart(windowIndex(T0)).toISOString(), '2025-03-03T00:00:00.000Z');
  assert.equal(windowIndex(days(6.5)), windowIndex(T0));
  assert.equal(windowIndex(days(7)), windowIndex(T0) + 1);
  assert.equal(windowIndex(new Date('2025-03-02T23:59:59Z')), windowIndex(T0) - 1);
  assert.deepEqual(
    [0, 1, 2, 4, 5, 24, 25, 400].map((w) => ageBucket(100, 100 + w)),
    [1, 1, 2, 2, 3, 3, 4, 4],
  );
});

test('the OS version is ID and VERSION_ID, stripped of anything that is not a version character', () => {
  assert.equal(osVersionFromOsRelease(OS_RELEASE), 'debian 12');
  assert.equal(osVersionFromOsRelease('ID=debian\nVERSION_CODENAME=trixie\n'), 'debian trixie');
  assert.equal(osVersionFromOsRelease('ID="deb\\r\\nX-Evil: 1"\nVERSION_ID="1 2;)"\n'), 'debrnX-Evil1 12');
});

test('config: [Countme] Enabled and Endpoints; a bad endpoint is an error naming it', () => {
  const kf = KeyFile.parse(`[Countme]\nEnabled=false\nEndpoints=http://a.test/x;https://b.test/y;\n`);
  assert.deepEqual(parseCountmeConfig(kf), { enabled: false, endpoints: ['http://a.test/x', 'https://b.test/y'] });
  assert.deepEqual(parseCountmeConfig(KeyFile.parse('[Daemon]\nLogLevel=info\n')), { enabled: true, endpoints: [] });
  assert.throws(() => parseCountmeConfig(KeyFile.parse('[Countme]\nEndpoints=ftp://x/;\n')), /ftp:\/\/x\/.*not http or https/);
  assert.throws(() => parseCountmeConfig(KeyFile.parse('[Countme]\nEndpoints=http://me:pw@x/;\n')), /credentials/);
  assert.throws(() => parseCountmeConfig(KeyFile.parse('[Countme]\nEnabled=maybe\n')), /Enabled=maybe is not a boolean/);
});

test('one request in a window, none again in it, one in the next; the age bucket grows', async () => {
  const stateDir = join(dir, 'windows');
  const r1 = await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => T0 });
  assert.deepEqual(
    r1.outcomes.map((o) => o.result),
    ['sent'],
  );
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.line, 'GET /metalink?repo=debian-12&countme=1 HTTP/1.1');

  for (const d of [0.1, 3, 6.5]) {
    const r = await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => days(d) });
    assert.deepEqual(
      r.outcomes.map((o) => o.result),
      ['skipped'],
    );
  }
  assert.equal(seen.length, 1, 'nothing more in the same window');

  await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => days(7) });
  assert.equal(seen.length, 2, 'one in the next window');
  assert.match(seen[1]!.line, /[?&]countme=1 /);
  await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => days(8) });
  assert.equal(seen.length, 2);
  await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => days(14) });
  assert.match(seen[2]!.line, /[?&]countme=2 /);
  await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => days(7 * 5) });
  assert.match(seen[3]!.line, /[?&]countme=3 /);
  await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => days(7 * 30) });
  assert.match(seen[4]!.line, /[?&]countme=4 /);
  assert.equal(seen.length, 5);
});

test('the request carries only the OS version and the bucket: exact request line and headers', async () => {
  const stateDir = join(dir, 'privacy');
  await runCountme({ config: cfg(), osRelease: OS_RELEASE, stateDir, now: () => T0 });
  assert.equal(seen.length, 1);
  const { line, rawHeaders } = seen[0]!;
  assert.equal(line, 'GET /metalink?repo=debian-12&countme=1 HTTP/1.1');
  const headers: [string, string][] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) headers.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  headers.sort((a, b) => a[0].localeCompare(b[0]));
  assert.deepEqual(headers, [
    ['connection', 'close'],
    ['host', `127.0.0.1:${port}`],
    ['user-agent', 'apt-ostree (debian 12)'],
  ]);
  const all = `${line}\n${rawHeaders.join('\n')}`;
  const identifying = [hostname()];
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    if (existsSync(f)) identifying.push(readFileSync(f, 'utf8').trim());
  }
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal) identifying.push(a.address, a.mac);
  }
  for (const x of identifying.filter((v) => v !== '' && v !== '00:00:00:00:00:00')) {
    assert.ok(!all.includes(x), `the request contains "${x}"`);
  }
});

test('opted out ([Countme] Enabled=false) or no endpoint: nothing sent, nothing written', async () => {
  const stateDir = join(dir, 'optout');
  const r1 = await runCountme({ config: cfg({ enabled: false }), osRelease: OS_RELEASE, stateDir, now: () => T0 });
  assert.match(r1.disabled ?? '', /Enabled=false/);
  const r2 = await runCountme({ config: cfg({ endpoints: [] }), osRelease: OS_RELEASE, stateDir, now: () => T0 });
  assert.match(r2.disabled ?? '', /no \[Countme\] Endpoints/);
  assert.equal(seen.length, 0);
  assert.equal(existsSync(join(stateDir, 'countme.json')), false);
});

test('an unreachable endpoint is logged and retried at the next run; the other endpoint is counted', async () => {
  const stateDir = join(dir, 'unreachable');
  // A port that was just free: nothing listens on it.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const dead = `http://127.0.0.1:${deadPort}/count`;
  const failing = `http://127.0.0.1:${port}/fail`;
  const config = cfg({ endpoints: [dead, failing, endpoint()] });
  const r1 = await runCountme({ config, osRelease: OS_RELEASE, stateDir, now: () => T0 });
  assert.deepEqual(
    r1.outcomes.map((o) => o.result),
    ['failed', 'failed', 'sent'],
  );
  assert.match(JSON.stringify(r1.outcomes[0]), /ECONNREFUSED/);
  assert.match(JSON.stringify(r1.outcomes[1]), /HTTP 503/);
  seen = [];
  const r2 = await runCountme({ config, osRelease: OS_RELEASE, stateDir, now: () => days(1) });
  assert.deepEqual(
    r2.outcomes.map((o) => o.result),
    ['failed', 'failed', 'skipped'],
  );
  assert.deepEqual(
    seen.map((x) => x.line),
    ['GET /fail?countme=1 HTTP/1.1'],
    'the failed one is tried again, the counted one not',
  );
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, APT_OSTREE_DIRECT: '1', ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
  });
}

test('CLI: apt-ostree countme reads the config and the deployment os-release, keeps state in STATE_DIRECTORY', async () => {
  const conf = join(dir, 'apt-ostreed.conf');
  const stateDir = join(dir, 'cli-state');
  writeFileSync(conf, `[Daemon]\nAutomaticUpdatePolicy=none\n\n[Countme]\nEndpoints=${endpoint()};\n`);
  const env = { STATE_DIRECTORY: stateDir };
  const r1 = await cli(['--sysroot', s.path, 'countme', '--config', conf, '--now', T0.toISOString()], env);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /counted \(countme=1, HTTP 200\)/);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.rawHeaders[seen[0]!.rawHeaders.findIndex((h) => h.toLowerCase() === 'user-agent') + 1], 'apt-ostree (debian 12)');
  const r2 = await cli(['--sysroot', s.path, 'countme', '--config', conf, '--now', days(2).toISOString()], env);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /skipped: already counted/);
  assert.equal(seen.length, 1);
  const state = JSON.parse(readFileSync(join(stateDir, 'countme.json'), 'utf8')) as { firstWindow: number };
  assert.equal(state.firstWindow, windowIndex(T0));

  writeFileSync(conf, `[Countme]\nEnabled=false\nEndpoints=${endpoint()};\n`);
  const r3 = await cli(['--sysroot', s.path, 'countme', '--config', conf, '--now', days(30).toISOString()], env);
  assert.equal(r3.code, 0, r3.stderr);
  assert.match(r3.stdout, /nothing sent: disabled/);
  assert.equal(seen.length, 1);

  writeFileSync(conf, `[Countme]\nEndpoints=gopher://x/;\n`);
  const r4 = await cli(['--sysroot', s.path, 'countme', '--config', conf], env);
  assert.equal(r4.code, 1);
  assert.match(r4.stderr, /Endpoints: "gopher:\/\/x\/" is not http or https/);
});
