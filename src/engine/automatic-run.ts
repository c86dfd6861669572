/**
 * A run of automatic updates (the registry's "automatic" runner): check or
 * stage per mode and scope, with the outcome written to the state file. Kept
 * apart from automatic.ts (settings, state, status), which `status` loads:
 * this part loads the update machinery.
 */
import { formatAutomaticStatus, summarizeDiff, type AutomaticRunMode } from './automatic';
import type { OperationContext, OperationResult } from './operations/types';
import type { PackageDiff } from './updates/pkgdiff';
import {
  readAutomaticState,
  securityFixesIn,
  securityUpdatesOf,
  writeAutomaticState,
  type AutomaticRunResult,
  type AvailableUpdate,
} from './updates/state';
import { checkForUpdate, stageUpdate } from './updates/upgrade';

export { automaticRunMode } from './automatic';

export interface AutomaticRunOptions extends AutomaticRunMode {
  /** Injectable clock (tests). */
  now?: () => Date;
}

const emptyDiff = (): PackageDiff => ({ added: [], removed: [], upgraded: [], downgraded: [] });

/**
 * One automatic update run: check (and remember), or stage, per `mode` and
 * `scope`. The outcome is written to the state file whatever it is; a failure
 * is recorded and thrown again (the timer's next run retries).
 */
export async function runAutomaticUpdate(
  ctx: OperationContext,
  opts: AutomaticRunOptions,
): Promise<OperationResult & { result: AutomaticRunResult }> {
  const now = opts.now ?? (() => new Date());
  if (opts.mode === 'none') {
    return { changed: false, result: 'disabled', summary: 'Automatic updates are disabled (AutomaticUpdatePolicy=none); nothing to do.' };
  }
  const started = now().toISOString();
  const state = readAutomaticState(ctx.sysroot);
  const record = (result: AutomaticRunResult, message: string): void => {
    state.lastRun = { started, finished: now().toISOString(), mode: opts.mode, scope: opts.scope, result, message };
    writeAutomaticState(ctx.sysroot, state);
  };
  try {
    const check = await checkForUpdate(ctx);
    const baseOk = check.baseAvailable && check.commit !== undefined && !check.downgrade;
    if (!baseOk && check.layered.length === 0) {
      state.availableUpdate = undefined;
      const msg = check.downgrade ? 'no update (the remote has an older base)' : 'no update available';
      record('no-update', msg);
      return { changed: false, result: 'no-update', summary: `No update available for ${check.refspec}.` };
    }
    const layeredSecurity = check.layered.filter((l) => l.security);
    const baseLabel = check.version ? `version ${check.version}` : (check.commit ?? '').slice(0, 12);
    const securityFixes =
      baseOk && check.commit !== undefined
        ? securityFixesIn(check.diff ?? emptyDiff(), await securityUpdatesOf(ctx.sysroot, check.commit))
        : [];
    // Under the security scope a new base is taken only when it carries security fixes; the layered
    // packages alone are updated (on the current base) when one of them has a security update.
    const takeBase = baseOk && (opts.scope !== 'security' || securityFixes.length > 0);
    const label = takeBase ? baseLabel : `${check.layered.length} layered package update(s)`;
    if (opts.scope === 'security' && securityFixes.length === 0 && layeredSecurity.length === 0) {
      state.availableUpdate = undefined;
      const why =
        baseOk && !check.diff
          ? 'its package list is unreadable, so it cannot be shown to carry security fixes'
          : 'it carries no security fixes';
      const what = baseOk ? baseLabel : label;
      const msg = `no security update (${what} is available but ${why})`;
      record('not-security', msg);
      return { changed: false, result: 'not-security', summary: `Update ${what} not taken: ${why} (AutomaticUpdateScope=security).` };
    }
    const available: AvailableUpdate = {
      commit: takeBase && check.commit !== undefined ? check.commit : check.current.checksum,
      version: takeBase ? check.version : check.current.version,
      timestamp: (takeBase ? check.timestamp : undefined) ?? check.current.timestamp,
      diff: takeBase ? (check.diff ?? emptyDiff()) : emptyDiff(),
      securityFixes,
      layered: check.layered,
      checked: now().toISOString(),
    };
    const securityCount = securityFixes.length + layeredSecurity.length;
    if (opts.mode === 'check') {
      state.availableUpdate = available;
      const sec = securityCount > 0 ? `, ${securityCount} security fix(es)` : '';
      const layered = check.layered.length > 0 ? `, ${check.layered.length} layered` : '';
      record('update-available', `update available: ${label} (${summarizeDiff(available.diff)}${layered}${sec})`);
      return {
        changed: false,
        result: 'update-available',
        summary: formatAutomaticStatus({ ...opts, policy: opts.mode, availableUpdate: available }, now()),
      };
    }
    const r = await stageUpdate(ctx, {}, { keepBase: !takeBase });
    state.availableUpdate = undefined;
    if (!r.changed) {
      record('no-update', 'no update staged');
      return { ...r, result: 'no-update' };
    }
    state.stagedDeployment = r.deployment;
    const layered = check.layered.length > 0 ? `, ${check.layered.length} layered` : '';
    record('staged', `staged ${label} (${summarizeDiff(available.diff)}${layered}); ready at the next boot`);
    return { ...r, result: 'staged' };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    try {
      record('failed', `failed: ${msg}`);
    } catch {
      /* the state directory itself is the problem: the error below says enough */
    }
    throw e;
  }
}
