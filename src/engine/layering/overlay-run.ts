/**
 * Helper process of layering, started as
 *   unshare --mount --propagation private -- node overlay-run.js SPEC.json
 * It mounts an overlayfs (lower: a hardlink checkout of the base; upper and
 * work: empty directories) in its own private mount namespace, then runs each
 * command of the spec in bubblewrap with the overlay as the root. The mount
 * exists only in this namespace: when this process ends, however it ends
 * (even SIGKILL), the kernel drops it. All output goes to stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface OverlaySpec {
  lower: string;
  upper: string;
  work: string;
  merged: string;
  /** bwrap arguments before "--" (the root binds of the merged tree and isolation). */
  bwrapArgs: string[];
  /** Commands, each run in its own bwrap in order; the first failure stops. */
  commands: string[][];
}

function main(): void {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as OverlaySpec;
  const opts = `lowerdir=${spec.lower},upperdir=${spec.upper},workdir=${spec.work},redirect_dir=off,index=off,metacopy=off,xino=off`;
  const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, spec.merged], { stdio: ['ignore', 2, 2] });
  if (m.status !== 0) {
    process.stderr.write(`apt-ostree: mounting the overlay on ${spec.merged} failed\n`);
    process.exit(2);
  }
  const parent = process.ppid;
  let child: ReturnType<typeof spawn> | undefined;
  // Die with the apt-ostree process that started us.
  setInterval(() => {
    if (process.ppid !== parent) {
      if (child?.pid)
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      process.exit(3);
    }
  }, 200).unref();
  const next = (i: number): void => {
    if (i >= spec.commands.length) process.exit(0);
    const cmd = spec.commands[i]!;
    process.stderr.write(`apt-ostree: running ${cmd.join(' ')}\n`);
    child = spawn('bwrap', [...spec.bwrapArgs, '--', ...cmd], { stdio: ['ignore', 2, 2] });
    child.on('close', (code, sig) => {
      if (code !== 0) {
        process.stderr.write(`apt-ostree: ${cmd[0]} failed (${sig ? `killed by ${sig}` : `exit code ${code}`})\n`);
        process.exit(1);
      }
      next(i + 1);
    });
  };
  next(0);
}

if (require.main === module) main();
