/**
 * Authorization of callers: uid 0 (as the bus daemon knows it) is allowed
 * without asking; anyone else is checked by polkit's
 * org.freedesktop.PolicyKit1.Authority.CheckAuthorization with the caller's
 * unique bus name as subject. Never on anything the caller claims.
 *
 * A check that allows interactive authorization can stay pending at polkitd
 * for minutes (an agent that never answers), and each one holds one of the
 * daemon's pending replies on the bus (dbus-daemon limits them): so the
 * checks outstanding are bounded per user and in all (Busy beyond), and a
 * caller's checks are cancelled at polkitd when it leaves the bus.
 */
import { log } from '../engine/log';
import { DBusCallError, variant, type BusConnection } from '../dbus/bus';
import { ACCESS_DENIED, errorNameOf, POLKIT_PREFIX } from '../dbus/contract';
import { ReplyError } from '../dbus/server';

const POLKIT = {
  destination: 'org.freedesktop.PolicyKit1',
  path: '/org/freedesktop/PolicyKit1/Authority',
  interface: 'org.freedesktop.PolicyKit1.Authority',
};

export interface AuthorizerLimits {
  /** Checks outstanding at once for one uid. */
  perUser: number;
  /** Checks outstanding at once in all. */
  total: number;
}

export const DEFAULT_AUTHORIZER_LIMITS: AuthorizerLimits = { perUser: 4, total: 32 };

interface PendingCheck {
  sender: string;
  uid: number;
  cancellationId: string;
}

export class Authorizer {
  private readonly pending = new Set<PendingCheck>();
  private nextCancellation = 1;

  constructor(
    private readonly bus: BusConnection,
    private readonly limits: AuthorizerLimits = DEFAULT_AUTHORIZER_LIMITS,
  ) {}

  /** Checks waiting for polkitd now. */
  get outstanding(): number {
    return this.pending.size;
  }

  /** Cancel at polkitd the checks made for `sender` (it left the bus); returns how many. */
  cancelFor(sender: string): number {
    const mine = [...this.pending].filter((p) => p.sender === sender);
    for (const p of mine) {
      this.bus
        .call({ ...POLKIT, member: 'CancelCheckAuthorization', signature: 's', body: [p.cancellationId] })
        .catch((e: unknown) => log.debug(`cancelling the polkit check ${p.cancellationId}: ${(e as Error).message}`));
    }
    if (mine.length > 0) log.notice(`cancelled ${mine.length} pending authorization(s) of ${sender}, which left the bus`);
    return mine.length;
  }

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
    const ofUser = [...this.pending].filter((p) => p.uid === uid).length;
    if (ofUser >= this.limits.perUser || this.pending.size >= this.limits.total) {
      throw new ReplyError(
        errorNameOf('busy'),
        `${what} refused for now: ${ofUser >= this.limits.perUser ? `uid ${uid} already has ${ofUser}` : `${this.pending.size}`} authorization check(s) waiting for an answer; finish or cancel those first`,
      );
    }
    const check: PendingCheck = { sender, uid, cancellationId: `apt-ostreed-${process.pid}-${this.nextCancellation++}` };
    this.pending.add(check);
    let authorized = false;
    let challenge = false;
    try {
      const r = await this.bus.call({
        ...POLKIT,
        member: 'CheckAuthorization',
        signature: '(sa{sv})sa{ss}us',
        body: [['system-bus-name', { name: variant('s', sender) }], actionId, {}, interactive ? 1 : 0, check.cancellationId],
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
    } finally {
      this.pending.delete(check);
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
