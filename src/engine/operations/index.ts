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
    default:
      throw notImplemented(`the ${req.kind} operation`);
  }
}
