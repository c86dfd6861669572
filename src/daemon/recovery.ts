/**
 * What a daemon that was killed in the middle of a transaction leaves
 * behind, cleaned when the next one starts: helper processes still working in
 * a scratch directory of the repository (they run in their own process
 * groups, so they outlive a SIGKILLed parent), and those scratch directories.
 * Deployments are never half-made: OSTree writes them atomically.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cleanLeftovers } from '../engine/layering/assemble';
import { log } from '../engine/log';
import { withSysrootLock } from '../engine/sysroot';

const PREFIXES = ['apt-ostree-layer-', 'apt-ostree-import-'];

/** PIDs of processes whose command line or working directory is inside one of `dirs`. */
function processesUsing(dirs: string[]): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => dirs.some((d) => a.startsWith(d) || a.includes(`${d}/`)))) pids.push(pid);
    } catch {
      /* gone */
    }
  }
  return pids;
}

export async function recoverSysroot(sysroot: string): Promise<void> {
  const repo = join(resolve(sysroot), 'ostree', 'repo');
  const tmp = join(repo, 'tmp');
  if (!existsSync(tmp)) return;
  try {
    await withSysrootLock(sysroot, async () => {
      const dirs = readdirSync(tmp)
        .filter((e) => PREFIXES.some((p) => e.startsWith(p)))
        .map((e) => join(tmp, e));
      if (dirs.length === 0) return;
      const pids = processesUsing(dirs);
      for (const pid of pids) {
        log.notice(`stopping process ${pid} left working in ${tmp} by an interrupted transaction`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (pids.length > 0) await new Promise((r) => setTimeout(r, 200));
      const n = cleanLeftovers(repo);
      if (n > 0) log.notice(`removed ${n} scratch director${n === 1 ? 'y' : 'ies'} of an interrupted transaction in ${tmp}`);
    });
  } catch (e) {
    log.warning(`could not check ${sysroot} for leftovers of an interrupted transaction: ${(e as Error).message}`);
  }
}
