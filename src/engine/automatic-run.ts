/**
 * A run of automatic updates (the registry's "automatic" runner): check or
 * stage per mode and scope, with the outcome written to the state file. Kept
 * apart from automatic.ts (settings, state, status), which `status` loads:
 * this part loads the update machinery.
 */
import { join, resolve } from 'node:path';
import {
  formatAutomaticStatus,
  parseSecurityUpdates,
  readAutomaticState,
  securityFixesIn,
  summarizeDiff,
  writeAutomaticState,
  type AutomaticRunMode,
  type AutomaticRunResult,
  type AvailableUpdate,
} from './automatic';
import type { OperationContext, OperationResult } from './operations/types';
import { META_SECURITY_UPDATES } from './ostree/metadata';
import { commitInfo } from './ostree/native';
import type { PackageDiff } from './updates/pkgdiff';
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
    if (!check.available || check.commit === undefined || check.downgrade) {
      state.availableUpdate = undefined;
      const msg = check.downgrade ? 'no update (the remote has an older base)' : 'no update available';
      record('no-update', msg);
      return { changed: false, result: 'no-update', summary: `No update available for ${check.refspec}.` };
    }
    const label = check.version ? `version ${check.version}` : check.commit.slice(0, 12);
    const securityFixes = securityFixesIn(check.diff ?? emptyDiff(), await securityUpdatesOf(ctx.sysroot, check.commit));
    if (opts.scope === 'security' && securityFixes.length === 0) {
      state.availableUpdate = undefined;
      const why = check.diff
        ? 'it carries no security fixes'
        : 'its package list is unreadable, so it cannot be shown to carry security fixes';
      const msg = `no security update (${label} is available but ${why})`;
      record('not-security', msg);
      return { changed: false, result: 'not-security', summary: `Update ${label} not taken: ${why} (AutomaticUpdateScope=security).` };
    }
    const available: AvailableUpdate = {
      commit: check.commit,
      version: check.version,
      timestamp: check.timestamp ?? 0,
      diff: check.diff ?? emptyDiff(),
      securityFixes,
      checked: now().toISOString(),
    };
    if (opts.mode === 'check') {
      state.availableUpdate = available;
      const sec = securityFixes.length > 0 ? `, ${securityFixes.length} security fix(es)` : '';
      record('update-available', `update available: ${label} (${summarizeDiff(available.diff)}${sec})`);
      return {
        changed: false,
        result: 'update-available',
        summary: formatAutomaticStatus({ ...opts, policy: opts.mode, availableUpdate: available }, now()),
      };
    }
    const r = await stageUpdate(ctx, {});
    state.availableUpdate = undefined;
    if (!r.changed) {
      record('no-update', 'no update staged');
      return { ...r, result: 'no-update' };
    }
    state.stagedDeployment = r.deployment;
    record('staged', `staged ${label} (${summarizeDiff(available.diff)}); ready at the next boot`);
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

async function securityUpdatesOf(sysrootPath: string, commit: string): Promise<string[]> {
  try {
    const info = commitInfo(join(resolve(sysrootPath), 'ostree', 'repo'), commit);
    return parseSecurityUpdates(info.metadata[META_SECURITY_UPDATES]);
  } catch {
    return [];
  }
}
