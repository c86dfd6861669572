/**
 * Dispatch of an operation request to the engine function that performs it:
 * the registry names it (module and function); this is the one place where
 * the implementation modules are loaded, on demand, so that a quick command
 * (status, --help) loads none of them.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { log } from '../log';
import { operationOf, type EngineModules } from './registry';
import type { OperationContext, OperationRequest, OperationResult } from './types';

const MODULES: { [M in keyof EngineModules]: () => Promise<EngineModules[M]> } = {
  layering: () => import('../layering/operations'),
  bootconfig: () => import('../bootconfig'),
  upgrade: () => import('../updates/upgrade'),
  automatic: () => import('../automatic'),
};

export async function runOperation(ctx: OperationContext, req: OperationRequest): Promise<OperationResult> {
  const { runner } = operationOf(req.kind);
  const mod = await MODULES[runner.module]();
  return (runner.run as (m: unknown, c: OperationContext, r: OperationRequest) => Promise<OperationResult>)(mod, ctx, req);
}

/**
 * The reboot a result asks for, decided by the runner (the daemon after its
 * transaction, or the in-process client): only when something changed, and
 * only on the running system ("/"). Returns the line to show the user, and
 * the function that reboots (called once the result is published).
 */
export function rebootDecision(sysroot: string, r: OperationResult): { note: string; reboot?: () => void } | undefined {
  if (!r.changed || !r.rebootRequested) return undefined;
  if (resolve(sysroot) !== '/') return { note: `Not rebooting: ${sysroot} is not the running system` };
  return {
    note: 'Rebooting',
    reboot: () => {
      log.notice('rebooting, as the caller asked (systemctl reboot)');
      const s = spawnSync('systemctl', ['reboot'], { stdio: 'inherit' });
      if (s.error || s.status !== 0) log.error(`systemctl reboot failed: ${s.error?.message ?? `exit code ${s.status}`}`);
    },
  };
}
