/**
 * Where a changing command runs: through the daemon (apt-ostreed on the
 * system bus) when it is there, otherwise in-process for root.
 * This first version runs in-process; the daemon work puts D-Bus in front.
 */
import type { OperationRequest, OperationResult } from '../engine/operations/types';
import type { GlobalOptions } from './globals';
import { TerminalProgress } from './progress';

export async function executeOperation(g: GlobalOptions, req: OperationRequest): Promise<OperationResult> {
  const { runOperation } = await import('../engine/operations');
  const progress = new TerminalProgress();
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    return await runOperation({ sysroot: g.sysroot, progress, signal: ac.signal }, req);
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.finish();
  }
}
