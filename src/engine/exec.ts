/**
 * Running the real tools (ostree, mmdebstrap, apt-get, dpkg, bwrap). No shell
 * is ever involved: arguments go to the program as they are.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AptOstreeError, CancelledError, type ErrorCode } from './errors';
import { log } from './log';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin. */
  input?: string | Buffer;
  /** Cancels the child (SIGTERM to its process group, then SIGKILL). */
  signal?: AbortSignal;
  /** Called with each line of stdout / stderr as it arrives. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Error code used when the command fails (default 'internal'). */
  errorCode?: ErrorCode;
  /** What the command was doing, for the error message ("committing the tree"). */
  what?: string;
  /** Exit codes that are not failures. */
  okCodes?: number[];
  hint?: string;
  /** Most bytes of stdout kept (default MAX_STDOUT); more fails the command rather than cut what a caller parses. */
  maxStdout?: number;
}

/** Default bound of a command's stdout kept in memory. */
export const MAX_STDOUT = 64 * 1024 * 1024;
/** Of stderr only the last this many bytes are kept (it is read for error messages, from the end). */
export const MAX_STDERR = 1024 * 1024;

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Every child carries this variable (value: "PID:STARTTIME" of the process
 * that started it), so one that outlived a killed daemon can be found and
 * ended when the next one starts (src/daemon/recovery.ts).
 */
export const OWNER_ENV = 'APT_OSTREE_OWNER';

let owner: string | undefined;
/** This process as OWNER_ENV names it. */
export function ownerTag(): string {
  owner ??= `${process.pid}:${processStartTime(process.pid) ?? 0}`;
  return owner;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or undefined when the process is gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

let setprivPath: string | null | undefined;
/**
 * setpriv (util-linux) when installed: children are started through
 * `setpriv --pdeathsig KILL`, so the kernel kills them when the process that
 * started them dies, even by SIGKILL (they run in their own process groups,
 * for cancellation, so nothing else would reach them).
 */
function setpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = null;
    for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
      if (d !== '' && existsSync(join(d, 'setpriv'))) {
        setprivPath = join(d, 'setpriv');
        break;
      }
    }
  }
  return setprivPath;
}

/** Run a program; resolve with its output, or reject with a typed error that names it. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    log.debug(`+ ${cmd} ${args.map(quoteForLog).join(' ')}`);
    const sp = setpriv();
    const child = spawn(sp ?? cmd, sp ? ['--pdeathsig', 'KILL', '--', cmd, ...args] : args, {
      cwd: opts.cwd,
      env: { ...(opts.env ?? process.env), [OWNER_ENV]: ownerTag() },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so cancel reaches grandchildren
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const lineSplitter = (cb?: (l: string) => void): ((b: Buffer) => void) => {
      let pending = '';
      return (b: Buffer) => {
        if (!cb) return;
        pending += b.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) cb(l);
      };
    };
    const outLines = lineSplitter(opts.onStdoutLine);
    const errLines = lineSplitter(opts.onStderrLine);
    // Output is bounded: a command that prints without end must not take the daemon's memory.
    const maxOut = opts.maxStdout ?? MAX_STDOUT;
    let outBytes = 0;
    let errBytes = 0;
    let tooMuch = false;
    child.stdout.on('data', (b: Buffer) => {
      outLines(b);
      if (tooMuch) return;
      outBytes += b.length;
      if (outBytes > maxOut) {
        tooMuch = true;
        out.length = 0;
        killGroup(child.pid, 'SIGKILL');
        return;
      }
      out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      errLines(b);
      err.push(b);
      errBytes += b.length;
      while (errBytes > MAX_STDERR && err.length > 1) errBytes -= err.shift()!.length;
    });
    let cancelled = false;
    const onAbort = (): void => {
      cancelled = true;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000).unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const cannotRun = (code: string | undefined, message: string): AptOstreeError =>
      new AptOstreeError(
        opts.errorCode ?? 'internal',
        code === 'ENOENT' ? `${cmd} is not installed (needed for ${opts.what ?? 'this operation'})` : `could not run ${cmd}: ${message}`,
        { hint: code === 'ENOENT' ? 'run scripts/setup.sh, or install the Debian package that provides it' : undefined },
      );
    child.on('error', (e: NodeJS.ErrnoException) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(cannotRun(e.code, e.message));
    });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (cancelled) {
        reject(new CancelledError());
        return;
      }
      if (tooMuch) {
        reject(
          new AptOstreeError(opts.errorCode ?? 'internal', `${opts.what ?? cmd} printed more than ${maxOut} bytes; stopped`, {
            details: tail(stderr, 40) || undefined,
            hint: opts.hint,
          }),
        );
        return;
      }
      const exit = code ?? 128;
      // setpriv could not exec the program: as if spawn had failed.
      const execFailed = sp && exit === 127 ? /^setpriv: failed to execute .*: (.*)$/m.exec(stderr) : null;
      if (execFailed) {
        reject(cannotRun(/No such file or directory/.test(execFailed[1]!) ? 'ENOENT' : undefined, execFailed[1]!));
        return;
      }
      if (exit === 0 || opts.okCodes?.includes(exit)) {
        resolve({ stdout, stderr, code: exit });
        return;
      }
      const what = opts.what ? `${opts.what} failed` : `${cmd} failed`;
      const how = sig ? `killed by ${sig}` : `exit code ${exit}`;
      reject(
        new AptOstreeError(opts.errorCode ?? 'internal', `${what} (${cmd} ${how})`, {
          details: tail(stderr.trim() !== '' ? stderr : stdout, 40),
          hint: opts.hint,
        }),
      );
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

/** The last `n` lines of a text. */
export function tail(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(-n).join('\n');
}

function quoteForLog(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
