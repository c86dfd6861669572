/**
 * What a daemon that was killed in the middle of a transaction leaves
 * behind, cleaned when the next one starts: helper processes (they run in
 * their own process groups and get SIGKILL from the kernel when the daemon
 * dies, see src/engine/exec.ts; any that still run, e.g. started where
 * setpriv is missing, are found by the owner tag in their environment or by
 * their scratch directory), and those scratch directories.
 * Deployments are never half-made: OSTree writes them atomically.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cleanLeftovers } from '../engine/layering/assemble';
import { log } from '../engine/log';
import { withSysrootLock } from '../engine/sysroot';
import { OWNER_ENV, processStartTime } from '../engine/exec';
import { LOCAL_DEB_DIR_PREFIX } from './localdeb';

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

/**
 * PIDs of processes started (as OWNER_ENV says) by a process that is gone:
 * the same PID with the same start time no longer exists.
 */
export function orphanedChildren(): number[] {
  const pids: number[] = [];
  const alive = new Map<string, boolean>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let tag: string | undefined;
    try {
      tag = readFileSync(`/proc/${e}/environ`, 'utf8')
        .split('\0')
        .find((v) => v.startsWith(`${OWNER_ENV}=`))
        ?.slice(OWNER_ENV.length + 1);
    } catch {
      continue; /* gone, or a kernel thread */
    }
    const m = tag === undefined ? null : /^(\d+):(\d+)$/.exec(tag);
    if (!m) continue;
    let ownerAlive = alive.get(tag!);
    if (ownerAlive === undefined) {
      ownerAlive = processStartTime(Number(m[1])) === Number(m[2]);
      alive.set(tag!, ownerAlive);
    }
    if (!ownerAlive) pids.push(pid);
  }
  return pids;
}

/** SIGKILL what a dead daemon (or client) left running; returns how many. */
export async function endOrphans(): Promise<number> {
  const pids = orphanedChildren();
  for (const pid of pids) {
    log.notice(`stopping process ${pid}, left running by an apt-ostree process that is gone`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (pids.length > 0) await new Promise((r) => setTimeout(r, 200));
  return pids.length;
}

export async function recoverSysroot(sysroot: string): Promise<void> {
  try {
    await endOrphans();
  } catch (e) {
    log.warning(`could not look for processes left by an interrupted transaction: ${(e as Error).message}`);
  }
  const repo = join(resolve(sysroot), 'ostree', 'repo');
  const tmp = join(repo, 'tmp');
  if (!existsSync(tmp)) return;
  try {
    await withSysrootLock(sysroot, async () => {
      // Copies of local .deb files that requests of a previous daemon used.
      for (const e of readdirSync(tmp)) if (e.startsWith(LOCAL_DEB_DIR_PREFIX)) rmSync(join(tmp, e), { recursive: true, force: true });
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
