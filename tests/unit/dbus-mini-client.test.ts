/**
 * The minimal D-Bus client of the status path (src/dbus/mini-client.ts)
 * against a real dbus-daemon started here: authentication, Hello, calls to
 * the bus and to a peer (dbus-next through src/dbus/bus.ts) whose replies
 * carry every type, error replies, timeouts, a refused authentication, and
 * the decoding of a big-endian message (the specification's other byte
 * order, which the bus passes through as a sender wrote it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BusConnection, variant, type DBusMessage } from '../../src/dbus/bus';
import { decodeMessage, MiniBus, MiniBusError, MiniCallError, socketOfAddress, type Variant } from '../../src/dbus/mini-client';
import { removeTree, tmpdir } from '../lib/env';

interface Bus {
  address: string;
  child: ChildProcess;
}

/** A dbus-daemon on a socket of `dir`, with an open policy and the given <auth> mechanism. */
function startBus(dir: string, name: string, auth: 'EXTERNAL' | 'ANONYMOUS'): Promise<Bus> {
  const address = `unix:path=${join(dir, `${name}.sock`)}`;
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>${address}</listen>
  <auth>${auth}</auth>
  ${auth === 'ANONYMOUS' ? '<allow_anonymous/>' : ''}
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
</busconfig>
`,
  );
  const child = spawn('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve({ address, child });
    });
    child.once('exit', (c) => reject(new Error(`dbus-daemon exited (${c})`)));
  });
}

const PEER = 'org.aptostree.test.Peer';
const CALL = { destination: PEER, path: '/test', interface: PEER };

describe('mini D-Bus client against a real dbus-daemon', () => {
  let dir: string;
  let bus: Bus;
  let peer: BusConnection;

  before(async () => {
    dir = tmpdir('mini-dbus');
    bus = await startBus(dir, 'bus', 'EXTERNAL');
    // A peer on dbus-next's marshalling: echoes its arguments, replies with every type, fails, or stays silent.
    peer = await BusConnection.connect(bus.address);
    assert.equal(await peer.requestName(PEER), true);
    peer.on('methodCall', (m: DBusMessage) => {
      switch (m.member) {
        case 'Echo':
          peer.reply(m, m.signature, m.body);
          break;
        case 'Everything':
          peer.reply(m, 'ybnqiuxtdsogva{sv}a(si)aay', [
            255,
            true,
            -2,
            65535,
            -70000,
            4000000000,
            -(2n ** 40n),
            2n ** 63n,
            2.5,
            'héllo ✓',
            '/a/b',
            'a{sv}',
            variant('as', ['x', 'y']),
            { n: variant('u', 7), s: variant('s', 'str'), nested: variant('v', variant('i', -1)), t: variant('(bs)', [false, 'z']) },
            [
              ['one', 1],
              ['two', 2],
            ],
            [[1, 2], [], [3]],
          ]);
          break;
        case 'Fail':
          peer.replyError(m, 'org.aptostree.test.Error.Boom', 'it went boom');
          break;
        case 'Silent':
          break;
        default:
          peer.replyError(m, 'org.freedesktop.DBus.Error.UnknownMethod', `no ${m.member ?? ''}`);
      }
    });
  });

  after(() => {
    peer?.close();
    bus?.child.kill('SIGTERM');
    if (dir) removeTree(dir);
  });

  it('authenticates, says Hello and calls the bus', async () => {
    const c = await MiniBus.connect(bus.address, 5000);
    try {
      assert.match(c.uniqueName, /^:\d+\.\d+$/);
      assert.deepEqual((await c.busCall('NameHasOwner', 's', [PEER])).body, [true]);
      assert.deepEqual((await c.busCall('NameHasOwner', 's', ['org.aptostree.test.Nobody'])).body, [false]);
      const names = (await c.busCall('ListNames')).body[0] as string[];
      assert.ok(names.includes('org.freedesktop.DBus') && names.includes(c.uniqueName) && names.includes(PEER));
      // a{sv}: the bus tells who we are, which EXTERNAL authenticated.
      const cred = (await c.busCall('GetConnectionCredentials', 's', [c.uniqueName])).body[0] as Record<string, Variant>;
      assert.deepEqual(cred.UnixUserID, { signature: 'u', value: process.getuid!() });
      assert.deepEqual(cred.ProcessID, { signature: 'u', value: process.pid });
    } finally {
      c.close();
    }
  });

  it('sends arguments of the basic types and reads every type of a reply', async () => {
    const c = await MiniBus.connect(bus.address, 5000);
    try {
      const args = ['s ✓', '/o/p', 'a{sv}', true, false, 200, -300, 60000, -2000000000, 4294967295];
      const echo = await c.call({ ...CALL, member: 'Echo', signature: 'sogbbynqiu', body: args });
      assert.equal(echo.signature, 'sogbbynqiu');
      assert.deepEqual(echo.body, ['s ✓', '/o/p', 'a{sv}', true, false, 200, -300, 60000, -2000000000, 4294967295]);
      const r = await c.call({ ...CALL, member: 'Everything' });
      assert.equal(r.signature, 'ybnqiuxtdsogva{sv}a(si)aay');
      assert.deepEqual(r.body, [
        255,
        true,
        -2,
        65535,
        -70000,
        4000000000,
        -(2n ** 40n),
        2n ** 63n,
        2.5,
        'héllo ✓',
        '/a/b',
        'a{sv}',
        { signature: 'as', value: ['x', 'y'] },
        {
          n: { signature: 'u', value: 7 },
          s: { signature: 's', value: 'str' },
          nested: { signature: 'v', value: { signature: 'i', value: -1 } },
          t: { signature: '(bs)', value: [false, 'z'] },
        },
        [
          ['one', 1],
          ['two', 2],
        ],
        [[1, 2], [], [3]],
      ]);
    } finally {
      c.close();
    }
  });

  it('takes calls at once after open(), before the bus answered anything: one round trip for all', async () => {
    const c = MiniBus.open(bus.address, 5000);
    try {
      const answers = await Promise.all([
        c.busCall('NameHasOwner', 's', [PEER]),
        c.call({ ...CALL, member: 'Echo', signature: 's', body: ['first'] }),
        c.call({ ...CALL, member: 'Echo', signature: 'u', body: [2] }),
        c.ready,
      ]);
      assert.deepEqual(
        answers.slice(0, 3).map((r) => r!.body),
        [[true], ['first'], [2]],
      );
      assert.match(c.uniqueName, /^:\d+\.\d+$/);
    } finally {
      c.close();
    }
    // A connection that fails (no socket) fails the calls made at once.
    const none = MiniBus.open(`unix:path=${join(dir, 'none.sock')}`, 2000);
    await assert.rejects(none.busCall('ListNames'), /ENOENT/);
    await assert.rejects(none.ready, /ENOENT/);
  });

  it('turns error replies into MiniCallError with the name and text, and times out', async () => {
    const c = await MiniBus.connect(bus.address, 5000);
    try {
      await assert.rejects(c.call({ ...CALL, member: 'Fail' }), (e: unknown) => {
        assert.ok(e instanceof MiniCallError);
        assert.equal(e.errorName, 'org.aptostree.test.Error.Boom');
        assert.equal(e.message, 'it went boom');
        return true;
      });
      // No owner, no auto-start: the bus itself answers with an error.
      await assert.rejects(
        c.call({ destination: 'org.aptostree.test.Nobody', path: '/', interface: 'x.y', member: 'Z', flags: 2 }),
        (e: unknown) => e instanceof MiniCallError && e.errorName === 'org.freedesktop.DBus.Error.NameHasNoOwner',
      );
      const t0 = Date.now();
      await assert.rejects(
        c.call({ ...CALL, member: 'Silent', timeout: 300 }),
        (e: unknown) => e instanceof MiniCallError && e.errorName === 'org.freedesktop.DBus.Error.NoReply',
      );
      assert.ok(Date.now() - t0 < 3000);
      // The connection still works after those.
      assert.deepEqual((await c.call({ ...CALL, member: 'Echo', signature: 's', body: ['still'] })).body, ['still']);
    } finally {
      c.close();
    }
    await assert.rejects(c.busCall('ListNames'), MiniBusError);
  });

  it('fails clearly when there is no bus, or the bus refuses EXTERNAL', async () => {
    await assert.rejects(MiniBus.connect(`unix:path=${join(dir, 'none.sock')}`, 2000), (e: unknown) => {
      assert.ok(e instanceof MiniBusError);
      assert.match(e.message, /cannot connect to the D-Bus bus at unix:path=.*none\.sock: .*ENOENT/);
      return true;
    });
    await assert.rejects(MiniBus.connect('tcp:host=localhost,port=1', 2000), /no unix socket in the D-Bus address/);
    const anon = await startBus(dir, 'anon', 'ANONYMOUS');
    try {
      await assert.rejects(
        MiniBus.connect(anon.address, 5000),
        /the D-Bus bus refused authentication \((REJECTED|it closed the connection)/,
      );
    } finally {
      anon.child.kill('SIGTERM');
    }
  });

  it('reads the socket of an address', () => {
    assert.equal(socketOfAddress('unix:path=/run/dbus/system_bus_socket'), '/run/dbus/system_bus_socket');
    assert.equal(socketOfAddress('tcp:host=h,port=1;unix:guid=abc,path=/tmp/a%20b'), '/tmp/a b');
    assert.equal(socketOfAddress('unix:abstract=/tmp/dbus-x,guid=1'), '\0/tmp/dbus-x');
    assert.equal(socketOfAddress('unix:tmpdir=/tmp'), undefined);
  });

  it('decodes a big-endian message (as the specification lays it out)', () => {
    const hex = [
      '42020001', // 'B', METHOD_RETURN, flags, version 1
      '0000000c', // body: 12 bytes
      '00000005', // serial 5
      '00000010', // header fields: 16 bytes
      '05017500', // REPLY_SERIAL, signature "u"
      '00000007', //   7
      '08016700', // SIGNATURE, signature "g"
      '02737500', //   "su"
      '00000002', // body: s "hi"
      '68690000', //   h i NUL, padding
      '00000100', // u 256
    ].join('');
    const m = decodeMessage(Buffer.from(hex, 'hex'));
    assert.equal(m.type, 2);
    assert.equal(m.replySerial, 7);
    assert.equal(m.signature, 'su');
    assert.deepEqual(m.body, ['hi', 256]);
  });
});
