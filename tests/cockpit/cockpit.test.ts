/**
 * The Cockpit page in a real browser, against the real stack:
 *
 *   - apt-ostreed on a private system bus with dbus-daemon and polkitd
 *     (tests/lib/bus.ts), serving a directory sysroot at the Debian base v1
 *     that follows a loopback HTTP remote holding v2 (tests/updates/fixture.ts),
 *     with a local APT archive of fixture packages in its sources;
 *   - Debian's cockpit-ws with --local-session=cockpit-bridge on loopback (no
 *     TLS, no login): the bridge runs as the user who started cockpit-ws, talks
 *     to the private bus (DBUS_SYSTEM_BUS_ADDRESS) and finds the page where
 *     scripts/install-daemon.sh put it (XDG_DATA_DIRS=DESTDIR/usr/share);
 *   - Debian's chromium, driven by playwright-core. The page is opened on its
 *     own (/cockpit/@localhost/apt-ostree/index.html) and once in Cockpit's
 *     shell (/apt-ostree, from cockpit-system).
 *
 * Superuser: with cockpit-ws 287 a local session started by root has a bridge
 * running as root, so its superuser is "root" and cockpit.permission({admin:
 * true}) is allowed: the actions work (the daemon lets uid 0 through without
 * asking polkit). A second cockpit-ws started as an unprivileged user (setpriv)
 * has no superuser (no sudo) and is not allowed: the page is read-only and
 * says why.
 *
 * Everything is checked by what the page shows, and cross-checked with
 * `apt-ostree status --json` through the daemon. Screenshots of each step go
 * to .test-artifacts/cockpit-TIMESTAMP/. Every process started here is
 * stopped by its PID.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserServer, type Page } from 'playwright-core';
import { buildArchive, type FixtureArchive } from '../lib/archive';
import { runCliOnBus, startTestBus, testUsers, type DaemonProcess, type TestBus, type TestUser } from '../lib/bus';
import { ROOT, sh, tmpdir, removeTree } from '../lib/env';
import type { RepoServer } from '../lib/http-repo';
import { serveBase, sysrootAtV1, type Served } from '../updates/fixture';

const COCKPIT_WS = '/usr/lib/cockpit/cockpit-ws';
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const PAGE = '/cockpit/@localhost/apt-ostree/index.html';

let served: Served;
let sysroot: string;
let archive: FixtureArchive;
let aptServer: RepoServer;
let tb: TestBus;
let daemon: DaemonProcess;
let users: { granted: TestUser; plain: TestUser };
let browser: Browser;
let browserServer: BrowserServer | undefined;
let page: Page;
let artifacts: string;
let shot = 0;
const wsProcs: ChildProcess[] = [];
const scratch: string[] = [];
/** Every URL the page asked for. */
const requests: string[] = [];
let adminUrl = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** cockpit-ws on loopback with a local session (as root, or as `user`); resolves with its base URL once it answers. */
async function startCockpit(user?: TestUser): Promise<string> {
  const port = await freePort();
  const home = tmpdir('cockpit-home');
  scratch.push(home);
  if (user) chownSync(home, user.uid, user.gid);
  const as = (cmd: string[]): string[] =>
    user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', ...cmd] : cmd;
  // A session bus of our own: without one, cockpit-bridge starts a dbus-daemon that outlives it.
  const busArgv = as(['dbus-daemon', '--session', '--nofork', '--print-address=1', `--address=unix:path=${join(home, 'bus')}`]);
  const sessionBus = spawn(busArgv[0]!, busArgv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  wsProcs.push(sessionBus);
  const sessionAddress = await new Promise<string>((resolve, reject) => {
    let buf = '';
    sessionBus.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!.trim());
    });
    sessionBus.once('exit', (c) => reject(new Error(`the session dbus-daemon exited (${c})`)));
  });
  const argv = as([COCKPIT_WS, '--no-tls', '--address', '127.0.0.1', '--port', String(port), '--local-session=cockpit-bridge']);
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...tb.env,
      HOME: home,
      XDG_RUNTIME_DIR: home,
      DBUS_SESSION_BUS_ADDRESS: sessionAddress,
      // The bridge finds packages in XDG_DATA_DIRS/cockpit: the page as install-daemon.sh installed it.
      XDG_DATA_DIRS: `${join(tb.destdir, 'usr', 'share')}:/usr/share`,
      LANG: 'C.UTF-8',
    },
  });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  wsProcs.push(child);
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 15000;
  for (;;) {
    try {
      const r = await fetch(`${url}/cockpit/@localhost/manifests.json`);
      const text = await r.text();
      if (r.ok) {
        assert.match(text, /"apt-ostree":\{/, 'the bridge found the page');
        return url;
      }
    } catch {
      /* not listening yet */
    }
    if (child.exitCode !== null || Date.now() > end) throw new Error(`cockpit-ws did not answer on ${url}\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function screenshot(p: Page, name: string): Promise<void> {
  shot++;
  // PatternFly animates buttons between states: let a state change settle.
  await p.waitForTimeout(400);
  await p.screenshot({ path: join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** Waits until `cond` (evaluated in the test) holds, re-reading the page. */
async function waitFor(what: string, cond: () => Promise<boolean>, ms = 180000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) {
      await screenshot(page, 'timeout').catch(() => undefined);
      throw new Error(
        `timed out waiting for ${what}\npage:\n${await page.innerText('body').catch(() => '')}\ndaemon log:\n${daemon.log()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface ShownDeployment {
  checksum: string;
  labels: string[];
  text: string;
}

async function shownDeployments(p: Page = page): Promise<ShownDeployment[]> {
  return p.locator('[data-testid=deployment]').evaluateAll((els) =>
    els.map((e) => ({
      checksum: e.getAttribute('data-checksum') ?? '',
      labels: [...e.querySelectorAll('[data-testid=deployment-label]')].map((l) => (l.textContent ?? '').trim()),
      text: (e as unknown as { innerText: string }).innerText,
    })),
  );
}

async function idle(): Promise<void> {
  await waitFor('the page to be idle', async () => (await page.locator('[data-testid=progress]').count()) === 0);
}

async function errorText(): Promise<string> {
  const e = page.locator('[data-testid=error]');
  return (await e.count()) > 0 ? e.first().innerText() : '';
}

interface CliStatus {
  deployments: { checksum: string; 'base-checksum': string; default: boolean; rollback: boolean; packages: string[]; kargs: string[] }[];
}

async function cliStatus(): Promise<CliStatus> {
  const r = await runCliOnBus(tb, ['--sysroot', sysroot, 'status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as CliStatus;
}

/** Chromium as a server (so the test holds its PID), and a connection to it. */
async function launch(): Promise<Browser> {
  browserServer = await chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  return chromium.connect(browserServer.wsEndpoint());
}

describe('the Cockpit page in a browser', { timeout: 15 * 60 * 1000 }, () => {
  before(async () => {
    assert.ok(existsSync(COCKPIT_WS), 'cockpit-ws is installed (scripts/setup.sh)');
    assert.ok(existsSync(CHROMIUM), 'chromium is installed (scripts/setup.sh)');
    assert.ok(existsSync('/usr/share/cockpit/shell/manifest.json'), "Cockpit's shell (cockpit-system) is installed (scripts/setup.sh)");
    users = testUsers();
    artifacts = join(ROOT, '.test-artifacts', `cockpit-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(artifacts, { recursive: true });
    served = await serveBase('cockpit');
    sysroot = await sysrootAtV1(served, 'sysroot', ['--karg=root=/dev/vda']);
    archive = buildArchive(
      [
        { name: 'fx-hello', version: '1.0', files: { '/usr/share/fx-hello/hello.txt': 'hello\n' } },
        { name: 'fx-hold', version: '1.0', files: { '/usr/share/fx-hold/h.txt': 'hold\n' }, postinst: 'sleep 6' },
        { name: 'fx-slow', version: '1.0', files: { '/usr/share/fx-slow/s.txt': 'slow\n' }, postinst: 'sleep 60' },
      ],
      'cockpit-archive',
    );
    let source: string;
    ({ server: aptServer, source } = await archive.serve());
    const top = sh('ls', [join(sysroot, 'ostree', 'deploy', 'debian', 'deploy')])
      .split('\n')
      .find((e) => /^[0-9a-f]{64}\.0$/.test(e))!;
    const lists = join(sysroot, 'ostree', 'deploy', 'debian', 'deploy', top, 'etc', 'apt', 'sources.list.d');
    mkdirSync(lists, { recursive: true });
    writeFileSync(join(lists, 'fixtures.list'), `${source}\n`);
    tb = await startTestBus();
    assert.ok(
      existsSync(join(tb.destdir, 'usr', 'share', 'cockpit', 'apt-ostree', 'manifest.json')),
      'install-daemon.sh installed the page',
    );
    daemon = await tb.startDaemon(sysroot, {
      config: tb.writeConfig('[Daemon]\nIdleExitTimeout=0\nAutomaticUpdatePolicy=check\nAutomaticUpdateScope=security\n'),
    });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const admin = await startCockpit();
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${admin}${PAGE}`);
    adminUrl = admin;
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    const browserPid = browserServer?.process().pid;
    await browserServer?.close().catch(() => undefined);
    for (const pid of [browserPid, ...wsProcs.map((c) => c.pid)]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    await Promise.all(
      wsProcs.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
    );
    await tb?.stop();
    await aptServer?.close();
    await served?.close();
    if (archive) removeTree(archive.dir);
    for (const d of scratch) removeTree(d);
  });

  it('shows the deployment with its checksum, origin, version, kernel arguments and the automatic-update policy', async () => {
    await waitFor('the deployments', async () => (await shownDeployments()).length === 1);
    const [d] = await shownDeployments();
    assert.equal(d!.checksum, served.v1);
    assert.ok(d!.text.includes(served.v1), 'the full checksum is shown');
    assert.match(d!.text, /origin:debian\/bookworm\/test-base/);
    assert.match(d!.text, /Version\s+1\.0/);
    assert.match(d!.text, /root=\/dev\/vda/);
    assert.match(await page.innerText('[data-testid=automatic-policy]'), /check \(scope security\)/);
    assert.match(await page.innerText('[data-testid=automatic-last-run]'), /not run yet/);
    assert.match(await page.innerText('[data-testid=daemon-info]'), new RegExp(`managing ${sysroot}`));
    assert.equal(await page.locator('[data-testid=read-only]').count(), 0, 'root has administrative access');
    await screenshot(page, 'deployments');
    // Nothing from outside the machine: the bundle, its fonts and Cockpit's own library, all from cockpit-ws.
    assert.ok(requests.some((u) => u.endsWith('/apt-ostree/index.js')) && requests.some((u) => u.endsWith('/base1/cockpit.js')));
    assert.deepEqual(
      requests.filter((u) => !u.startsWith(`${adminUrl}/`) && !u.startsWith('data:') && !u.startsWith('ws://127.0.0.1')),
      [],
    );
  });

  it('read-only: a session without administrative access sees everything, cannot act, and says why', async () => {
    const url = await startCockpit(users.plain);
    const p = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    try {
      await p.goto(`${url}${PAGE}`);
      await p.locator('[data-testid=read-only]').waitFor({ timeout: 30000 });
      assert.match(await p.innerText('[data-testid=read-only]'), /not change anything: you do not have administrative access/);
      const end = Date.now() + 30000;
      while ((await shownDeployments(p)).length !== 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
      assert.equal((await shownDeployments(p))[0]?.checksum, served.v1, 'an unprivileged user reads the status');
      for (const name of ['Check for updates', 'Update', 'Add packages', 'Apply kernel arguments']) {
        const b = p.getByRole('button', { name, exact: true });
        assert.equal(await b.isDisabled(), true, `${name} is disabled`);
        assert.match((await b.getAttribute('title')) ?? '', /administrative access/, `${name} says why`);
      }
      await screenshot(p, 'read-only');
    } finally {
      await p.close();
    }
  });

  it('"Check for updates" finds v2 on the remote and deploys nothing', async () => {
    await page.getByRole('button', { name: 'Check for updates', exact: true }).click();
    await waitFor(
      'the check summary',
      async () => (await page.locator('[data-testid=check-summary]').count()) > 0 || (await errorText()) !== '',
    );
    assert.equal(await errorText(), '');
    const summary = await page.innerText('[data-testid=check-summary]');
    assert.ok(summary.includes(served.v2), summary);
    assert.match(summary, /2\.0/);
    await idle();
    assert.equal((await shownDeployments()).length, 1);
    await screenshot(page, 'check');
  });

  it('"Update" shows progress and ends with a new pending deployment that status --json reports', async () => {
    await page.getByRole('button', { name: 'Update', exact: true }).click();
    await page.locator('[data-testid=progress]').waitFor({ timeout: 10000 });
    await waitFor(
      'a task in the progress',
      async () => {
        const t = await page
          .locator('[data-testid=progress-task]')
          .innerText()
          .catch(() => '');
        return t !== '' && !/Waiting/.test(t);
      },
      60000,
    ).catch(() => undefined);
    await screenshot(page, 'update-progress');
    await idle();
    assert.equal(await errorText(), '');
    assert.match(await page.innerText('[data-testid=notice]'), /2\.0|Deployed|Staged/);
    await waitFor('two deployments', async () => (await shownDeployments()).length === 2);
    const ds = await shownDeployments();
    assert.equal(ds[0]!.checksum, served.v2);
    assert.deepEqual(ds[0]!.labels, ['Pending']);
    assert.equal(ds[1]!.checksum, served.v1);
    assert.deepEqual(ds[1]!.labels, ['Rollback']);
    const st = await cliStatus();
    assert.deepEqual(
      st.deployments.map((d) => [d.checksum, d.default]),
      [
        [served.v2, true],
        [served.v1, false],
      ],
    );
    // Reboot is offered for the pending deployment, and says why it is unavailable on a sysroot that is not "/".
    assert.match(await page.innerText('[data-testid=reboot-note]'), /not the running system/);
    await screenshot(page, 'updated');
  });

  it('in the Cockpit shell: "Software updates (OSTree)" in the menu, the page in its frame', async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    try {
      await p.goto(`${adminUrl}/apt-ostree`);
      await p.getByRole('link', { name: 'Software updates (OSTree)' }).first().waitFor({ timeout: 30000 });
      const frame = p.frameLocator('iframe[name="cockpit1:localhost/apt-ostree"]');
      await frame.locator(`[data-testid=deployment][data-checksum="${served.v2}"]`).waitFor({ timeout: 30000 });
      assert.match(await frame.locator('[data-testid=deployment]').first().innerText(), /Pending/);
      await screenshot(p, 'shell');
    } finally {
      await p.close();
    }
  });

  it('"Roll back" swaps the default and the rollback deployment, and again', async () => {
    await page.getByRole('button', { name: 'Roll back', exact: true }).click();
    await idle();
    assert.equal(await errorText(), '');
    await waitFor('the swapped order', async () => (await shownDeployments())[0]?.checksum === served.v1);
    const ds = await shownDeployments();
    assert.deepEqual(
      ds.map((d) => [d.checksum, d.labels.join(',')]),
      [
        [served.v1, 'Pending'],
        [served.v2, 'Rollback'],
      ],
    );
    const st = await cliStatus();
    assert.deepEqual(
      st.deployments.map((d) => [d.checksum, d.default, d.rollback]),
      [
        [served.v1, true, false],
        [served.v2, false, true],
      ],
    );
    await screenshot(page, 'rolled-back');
    // And back (the layering below builds on v2, the commit the origin's ref holds), asking for a
    // reboot: the daemon's sysroot is not the running system, so the page says it does not reboot.
    await page.getByLabel('Reboot when the update or roll back is done').check();
    await page.getByRole('button', { name: 'Roll back', exact: true }).click();
    await idle();
    assert.equal(await errorText(), '');
    assert.match(await page.innerText('[data-testid=notice]'), new RegExp(`Not rebooting: ${sysroot} is not the running system`));
    await page.getByLabel('Reboot when the update or roll back is done').uncheck();
    await waitFor('the order back', async () => (await shownDeployments())[0]?.checksum === served.v2);
  });

  it("a package that does not exist: the engine's error in the page, which stays usable", async () => {
    await page.fill('#aot-install', 'fx-no-such-package');
    await page.getByRole('button', { name: 'Add packages', exact: true }).click();
    await waitFor('the error', async () => (await errorText()) !== '');
    await idle();
    const text = await errorText();
    assert.match(text, /Adding fx-no-such-package failed/);
    assert.match(text, /fx-no-such-package/);
    assert.match(text, /hint: check the name/i, "with the engine's hint");
    await screenshot(page, 'bad-package');
    assert.equal((await shownDeployments()).length, 2, 'nothing deployed');
    assert.equal(await page.getByRole('button', { name: 'Update', exact: true }).isDisabled(), false, 'the page stays usable');
  });

  it('adding a layered package makes a deployment that lists it', async () => {
    await page.fill('#aot-install', 'fx-hello');
    await page.getByRole('button', { name: 'Add packages', exact: true }).click();
    await page.locator('[data-testid=progress]').waitFor({ timeout: 10000 });
    await idle();
    assert.equal(await errorText(), '', 'the error of the previous step is gone');
    await waitFor('the layered deployment', async () => /fx-hello/.test((await shownDeployments())[0]?.text ?? ''));
    const ds = await shownDeployments();
    assert.deepEqual(ds[0]!.labels, ['Pending']);
    assert.match(ds[0]!.text, /Layered packages\s+fx-hello/);
    assert.match(ds[0]!.text, new RegExp(`Base commit\\s+${served.v2}`));
    const st = await cliStatus();
    assert.deepEqual(st.deployments[0]!.packages, ['fx-hello']);
    assert.equal(st.deployments[0]!.checksum, ds[0]!.checksum);
    await screenshot(page, 'layered');
  });

  it("while another client holds the daemon: Busy with who holds it, and an action shows the engine's error", async () => {
    const other = runCliOnBus(tb, ['--sysroot', sysroot, 'install', 'fx-hold']);
    await waitFor('the busy state', async () => (await page.locator('[data-testid=busy]').count()) > 0, 60000);
    const busy = await page.innerText('[data-testid=busy]');
    assert.match(busy, /"install fx-hold"/);
    assert.match(busy, /started by :\d+\.\d+/);
    await page.getByRole('button', { name: 'Check for updates', exact: true }).click();
    await waitFor('the busy error', async () => (await errorText()) !== '', 30000);
    assert.match(await errorText(), /another transaction is in progress: "install fx-hold"/);
    await screenshot(page, 'busy');
    const r = await other;
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the busy state to end', async () => (await page.locator('[data-testid=busy]').count()) === 0, 60000);
    await waitFor('the new deployment', async () => /fx-hold/.test((await shownDeployments())[0]?.text ?? ''), 30000);
  });

  it('kernel arguments: edited in the page, in a new deployment', async () => {
    await page.fill('#aot-kargs', 'root=/dev/vda quiet');
    await page.getByRole('button', { name: 'Apply kernel arguments', exact: true }).click();
    await idle();
    assert.equal(await errorText(), '');
    await waitFor('the new kernel arguments', async () => /root=\/dev\/vda quiet/.test((await shownDeployments())[0]?.text ?? ''));
    const st = await cliStatus();
    assert.deepEqual(st.deployments[0]!.kargs, ['root=/dev/vda', 'quiet']);
    await screenshot(page, 'kargs');
  });

  it("Cancel stops the page's own transaction: the page says so, and nothing is deployed", async () => {
    const before = (await shownDeployments()).map((d) => d.checksum);
    await page.fill('#aot-install', 'fx-slow');
    await page.getByRole('button', { name: 'Add packages', exact: true }).click();
    const cancel = page.getByRole('button', { name: 'Cancel', exact: true });
    await waitFor('Cancel to be offered', async () => (await cancel.count()) > 0 && !(await cancel.isDisabled()), 30000);
    // Into the slow maintainer script: the engine is at work when the cancellation comes.
    await waitFor('the install to run', async () => /transaction \d+ \(install fx-slow\) started/.test(daemon.log()), 30000);
    await cancel.click();
    await screenshot(page, 'cancelling');
    await idle();
    const text = await errorText();
    assert.match(text, /Adding fx-slow: cancelled/);
    assert.match(text, /cancel/i);
    assert.deepEqual(
      (await shownDeployments()).map((d) => d.checksum),
      before,
      'nothing deployed',
    );
    assert.ok(!(await cliStatus()).deployments.some((d) => d.packages.includes('fx-slow')));
  });

  it('removing a layered package (its remove button) makes a deployment without it', async () => {
    await page.getByRole('button', { name: 'Remove fx-hello', exact: true }).click();
    await page.locator('[data-testid=progress]').waitFor({ timeout: 10000 });
    await idle();
    assert.equal(await errorText(), '');
    await waitFor('the deployment without fx-hello', async () => {
      const t = (await shownDeployments())[0]?.text ?? '';
      return /fx-hold/.test(t) && !/fx-hello/.test(t);
    });
    assert.deepEqual((await cliStatus()).deployments[0]!.packages, ['fx-hold']);
    await screenshot(page, 'removed');
  });
});

describe('packaging', () => {
  it('npm run deb builds cockpit-apt-ostree (the page, Depends: cockpit-bridge, apt-ostree) beside apt-ostree, which does not carry it', () => {
    const r = spawnSync('sh', [join(ROOT, 'scripts', 'build-deb.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, APT_OSTREE_DEB_NO_BUILD: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    const [cockpitDeb, mainDeb] = r.stdout.trim().split('\n');
    assert.match(cockpitDeb!, /^dist\/cockpit-apt-ostree_[^_]+_all\.deb$/);
    assert.match(mainDeb!, /^dist\/apt-ostree_[^_]+_\w+\.deb$/, 'the main package is named last');
    assert.equal(sh('dpkg-deb', ['-f', join(ROOT, cockpitDeb!), 'Depends']).trim(), 'cockpit-bridge, apt-ostree');
    const files = sh('dpkg-deb', ['-c', join(ROOT, cockpitDeb!)]);
    for (const f of ['manifest.json', 'index.html', 'index.js', 'index.css'])
      assert.match(files, new RegExp(`\\./usr/share/cockpit/apt-ostree/${f.replace('.', '\\.')}\\n`), f);
    assert.doesNotMatch(files, /https?:/, 'no file named after a remote address');
    assert.doesNotMatch(sh('dpkg-deb', ['-c', join(ROOT, mainDeb!)]), /usr\/share\/cockpit/);
  });
});
