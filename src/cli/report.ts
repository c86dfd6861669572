/**
 * Printing an operation's result the same way for every changing verb: the
 * summary line, exit 77 when nothing changed and --unchanged-exit-77 was given,
 * and the reboot when one was asked for (only ever on the running system, "/").
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { OperationResult } from '../engine/operations/types';
import { EXIT_UNCHANGED, type GlobalOptions } from './globals';

export function reportResult(g: GlobalOptions, r: OperationResult, opts: { unchangedExit77?: boolean } = {}): void {
  process.stdout.write(`${r.summary}\n`);
  if (!r.changed && opts.unchangedExit77) process.exitCode = EXIT_UNCHANGED;
  if (r.changed && r.rebootRequested) {
    if (resolve(g.sysroot) !== '/') {
      process.stdout.write(`Not rebooting: ${g.sysroot} is not the running system\n`);
      return;
    }
    process.stdout.write('Rebooting\n');
    spawnSync('systemctl', ['reboot'], { stdio: 'inherit' });
  }
}
