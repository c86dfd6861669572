/**
 * A hostile D-Bus client of apt-ostreed, run as its own process (as an
 * unprivileged user, through setpriv) by the daemon tests:
 *
 *   node hostile-client.js COUNT [CONNECTIONS]
 *
 * It registers itself with the real polkitd as the authentication agent of
 * its own process and never answers BeginAuthentication, so every
 * interactive authorization check the daemon makes for it stays pending at
 * polkitd. Then it sends COUNT InstallPackages calls with interactive
 * authorization allowed. It prints one JSON line per event on stdout:
 *   {"event":"agent"}                         the agent is registered
 *   {"event":"sent","count":N}                all calls are out
 *   {"event":"reply","i":I,"error":NAME|null,"ms":T}
 *   {"event":"begin"}                         polkitd asked the agent (never answered)
 * and stays connected until its stdin closes or it is killed.
 *
 *   node hostile-client.js install PATH [dry-run]
 *
 * asks for InstallPackages([PATH]) (no interactive authorization), starts
 * the transaction when it gets one, and prints
 *   {"event":"install","error":NAME|null,"text":...,"ms":T}
 * (text: the error, or the Finished signal's message) and exits.
 *
 *   node hostile-client.js join-cancel KARG
 *
 * asks for ModifyKernelArgs([KARG]) (joining an identical transaction when
 * one is waiting), then calls Cancel on it, and prints
 *   {"event":"join-cancel","tx":PATH,"error":NAME|null}
 *
 *   node hostile-client.js fuzz SEED COUNT
 *
 * sends the calls of tests/lib/fuzz-calls.ts and prints
 *   {"event":"fuzz","errors":{NAME:N},"accepted":[...]}
 */
import { readFileSync } from 'node:fs';
import { fuzzCalls } from './fuzz-calls';
import { BusConnection, DBusCallError, FLAG_ALLOW_INTERACTIVE_AUTHORIZATION, variant, type DBusMessage } from '../../src/dbus/bus';

const AGENT_PATH = '/org/aptostree/test/Agent';

function say(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

/** Field 22 of /proc/self/stat: the start time polkit identifies a process by. */
function startTime(): bigint {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return BigInt(rest[19]!);
}

async function install(path: string, dryRun: boolean): Promise<void> {
  const bus = await BusConnection.connect();
  const t0 = Date.now();
  await bus.addMatch("type='signal',sender='org.aptostree.dev',path_namespace='/org/aptostree/dev/transaction'");
  let tx: string;
  try {
    const r = await bus.call({
      destination: 'org.aptostree.dev',
      path: '/org/aptostree/dev',
      interface: 'org.aptostree.dev.Daemon',
      member: 'InstallPackages',
      signature: 'asa{sv}',
      body: [[path], dryRun ? { 'dry-run': variant('b', true) } : {}],
      timeout: 60000,
    });
    tx = String(r.body[0]);
  } catch (e) {
    say({ event: 'install', error: e instanceof DBusCallError ? e.errorName : String(e), text: (e as Error).message, ms: Date.now() - t0 });
    return;
  }
  const finished = new Promise<[boolean, string]>((resolve) =>
    bus.on('signal', (m: DBusMessage) => {
      if (m.path === tx && m.member === 'Finished') resolve(m.body as [boolean, string]);
    }),
  );
  await bus.call({ destination: 'org.aptostree.dev', path: tx, interface: 'org.aptostree.dev.Transaction', member: 'Start' });
  const [ok, text] = await finished;
  say({ event: 'install', error: ok ? null : 'Finished', text, ms: Date.now() - t0 });
}

async function joinCancel(karg: string): Promise<void> {
  const bus = await BusConnection.connect();
  let tx = '';
  try {
    const r = await bus.call({
      destination: 'org.aptostree.dev',
      path: '/org/aptostree/dev',
      interface: 'org.aptostree.dev.Daemon',
      member: 'ModifyKernelArgs',
      signature: 'asasasa{sv}',
      body: [[karg], [], [], {}],
    });
    tx = String(r.body[0]);
    await bus.call({ destination: 'org.aptostree.dev', path: tx, interface: 'org.aptostree.dev.Transaction', member: 'Cancel' });
    say({ event: 'join-cancel', tx, error: null });
  } catch (e) {
    say({ event: 'join-cancel', tx, error: e instanceof DBusCallError ? e.errorName : String(e), text: (e as Error).message });
  }
}

async function fuzz(seed: number, count: number): Promise<void> {
  const bus = await BusConnection.connect();
  const errors: Record<string, number> = {};
  const accepted: string[] = [];
  for (const c of fuzzCalls(seed, count)) {
    try {
      await bus.call({ ...c, flags: FLAG_ALLOW_INTERACTIVE_AUTHORIZATION });
      accepted.push(`${c.member}(${c.signature ?? ''})`);
    } catch (e) {
      const name = e instanceof DBusCallError ? e.errorName : String(e);
      errors[name] = (errors[name] ?? 0) + 1;
    }
  }
  say({ event: 'fuzz', errors, accepted });
}

async function main(): Promise<void> {
  if (process.argv[2] === 'fuzz') {
    await fuzz(Number(process.argv[3]), Number(process.argv[4]));
    process.exit(0);
  }
  if (process.argv[2] === 'join-cancel') {
    await joinCancel(process.argv[3] ?? '');
    process.exit(0);
  }
  if (process.argv[2] === 'install') {
    await install(process.argv[3] ?? '', process.argv[4] === 'dry-run');
    process.exit(0);
  }
  const count = Number(process.argv[2] ?? '1');
  const conns = await Promise.all(Array.from({ length: Number(process.argv[3] ?? '2') }, () => BusConnection.connect()));
  const bus = conns[0]!;
  bus.on('methodCall', (m: DBusMessage) => {
    if (m.member === 'BeginAuthentication') {
      say({ event: 'begin' });
      return; // never answered: the check stays pending
    }
    try {
      bus.reply(m);
    } catch {
      /* gone */
    }
  });
  await bus.call({
    destination: 'org.freedesktop.PolicyKit1',
    path: '/org/freedesktop/PolicyKit1/Authority',
    interface: 'org.freedesktop.PolicyKit1.Authority',
    member: 'RegisterAuthenticationAgent',
    signature: '(sa{sv})ss',
    body: [
      ['unix-process', { pid: variant('u', process.pid), 'start-time': variant('t', startTime()), uid: variant('i', process.getuid!()) }],
      'C',
      AGENT_PATH,
    ],
  });
  say({ event: 'agent' });
  const t0 = Date.now();
  for (let i = 0; i < count; i++) {
    conns[i % conns.length]!.call({
      destination: 'org.aptostree.dev',
      path: '/org/aptostree/dev',
      interface: 'org.aptostree.dev.Daemon',
      member: 'InstallPackages',
      signature: 'asa{sv}',
      body: [[`hostile-${i}`], {}],
      flags: FLAG_ALLOW_INTERACTIVE_AUTHORIZATION,
      timeout: 0,
    }).then(
      () => say({ event: 'reply', i, error: null, ms: Date.now() - t0 }),
      (e: unknown) => say({ event: 'reply', i, error: e instanceof DBusCallError ? e.errorName : String(e), ms: Date.now() - t0 }),
    );
  }
  say({ event: 'sent', count });
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const c of conns) c.close();
    process.exit(0);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`hostile-client: ${(e as Error).message}\n`);
  process.exit(1);
});
