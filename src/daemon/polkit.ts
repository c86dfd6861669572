/**
 * Authorization of callers: uid 0 (as the bus daemon knows it) is allowed
 * without asking; anyone else is checked by polkit's
 * org.freedesktop.PolicyKit1.Authority.CheckAuthorization with the caller's
 * unique bus name as subject. Never on anything the caller claims.
 */
import { log } from '../engine/log';
import { DBusCallError, variant, type BusConnection } from '../dbus/bus';
import { ACCESS_DENIED, POLKIT_PREFIX } from '../dbus/contract';
import { ReplyError } from '../dbus/server';

const POLKIT = {
  destination: 'org.freedesktop.PolicyKit1',
  path: '/org/freedesktop/PolicyKit1/Authority',
  interface: 'org.freedesktop.PolicyKit1.Authority',
};

export class Authorizer {
  constructor(private readonly bus: BusConnection) {}

  /** The uid of a connection, from the bus daemon. */
  async uidOf(sender: string): Promise<number> {
    const r = await this.bus.busCall('GetConnectionUnixUser', 's', [sender]);
    return Number(r.body[0]);
  }

  /**
   * Resolve when `sender` may perform `action` (without the prefix, e.g.
   * "install-packages"); throw AccessDenied otherwise.
   */
  async check(sender: string, action: string, what: string, interactive: boolean): Promise<void> {
    const actionId = `${POLKIT_PREFIX}${action}`;
    let uid: number;
    try {
      uid = await this.uidOf(sender);
    } catch (e) {
      throw new ReplyError(ACCESS_DENIED, `cannot tell who ${sender} is (${(e as Error).message}); ${what} refused`);
    }
    if (uid === 0) return;
    let authorized = false;
    let challenge = false;
    try {
      const r = await this.bus.call({
        ...POLKIT,
        member: 'CheckAuthorization',
        signature: '(sa{sv})sa{ss}us',
        body: [['system-bus-name', { name: variant('s', sender) }], actionId, {}, interactive ? 1 : 0, ''],
        timeout: interactive ? 300000 : 25000,
      });
      const res = r.body[0] as [boolean, boolean, Record<string, string>];
      authorized = res[0] === true;
      challenge = res[1] === true;
    } catch (e) {
      const why = e instanceof DBusCallError ? `${e.errorName}: ${e.message}` : (e as Error).message;
      log.warning(`polkit check of ${actionId} for ${sender} (uid ${uid}) failed: ${why}`);
      throw new ReplyError(
        ACCESS_DENIED,
        `${what} refused: the authorization of uid ${uid} for ${actionId} could not be checked (polkit: ${why})`,
      );
    }
    log.info(
      `polkit: ${actionId} for ${sender} (uid ${uid}): ` +
        (authorized ? 'authorized' : challenge ? 'needs authentication' : 'not authorized'),
    );
    if (!authorized) {
      throw new ReplyError(
        ACCESS_DENIED,
        `${what} refused: uid ${uid} is not authorized for ${actionId}` +
          (challenge ? " (it needs an administrator's authentication, and no polkit agent answered)" : '') +
          '; run it as root, or have an administrator grant the action in a polkit rule',
      );
    }
  }
}
