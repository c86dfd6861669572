/**
 * What a verb's handler returns: its output and exit code. main() writes it
 * and exits; tests call handlers and look at it, without a process.
 */
import type { OperationResult } from '../engine/operations/types';
import { EXIT_UNCHANGED } from './globals';

export interface VerbOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export const output = (stdout = '', more: Partial<VerbOutput> = {}): VerbOutput => ({ stdout, stderr: '', exitCode: 0, ...more });

/**
 * An operation's result, the same way for every changing verb: the summary
 * line, what the runner did about a reboot, and exit 77 when nothing
 * changed and --unchanged-exit-77 was given.
 */
export function resultOutput(r: OperationResult, opts: { unchangedExit77?: boolean } = {}): VerbOutput {
  return output(`${r.summary}\n${r.rebootNote ? `${r.rebootNote}\n` : ''}`, {
    exitCode: !r.changed && opts.unchangedExit77 ? EXIT_UNCHANGED : 0,
  });
}
