/**
 * Dispatch of an operation request to the engine module that performs it.
 * Modules are loaded on demand so that a quick command (status) loads none.
 */
import { notImplemented } from '../errors';
import type { OperationContext, OperationRequest, OperationResult } from './types';

export async function runOperation(ctx: OperationContext, req: OperationRequest): Promise<OperationResult> {
  switch (req.kind) {
    case 'install':
    case 'uninstall':
    case 'override-remove':
    case 'override-replace':
    case 'override-reset':
    case 'reset':
      return (await import('../layering/operations')).runLayeringOperation(ctx, req);
    case 'refresh-md':
      return (await import('../layering/operations')).refreshMetadata(ctx, req);
    case 'rollback':
    case 'kargs':
    case 'cleanup':
    case 'pin':
      return (await import('../bootconfig')).runBootConfigOperation(ctx, req);
    case 'upgrade':
      return (await import('../updates/upgrade')).runUpgrade(ctx, req.options);
    case 'deploy':
      return (await import('../updates/upgrade')).runDeploy(ctx, req.revision, req.options);
    case 'rebase':
      return (await import('../updates/upgrade')).runRebase(ctx, req.refspec, req.options);
    case 'initramfs':
      return (await import('../updates/upgrade')).runInitramfs(ctx, req.enable, req.args, req.options);
    case 'automatic-update': {
      const auto = await import('../automatic');
      const cfg = req.options.mode === undefined || req.options.scope === undefined ? auto.automaticConfigFromFile() : undefined;
      return auto.runAutomaticUpdate(ctx, { mode: req.options.mode ?? cfg!.policy, scope: req.options.scope ?? cfg!.scope });
    }
    default:
      throw notImplemented(`the ${(req as OperationRequest).kind} operation`);
  }
}
