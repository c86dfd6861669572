/**
 * Running the real tools (ostree, mmdebstrap, apt-get, dpkg, bwrap). No shell
 * is ever involved: arguments go to the program as they are.
 */
import { spawn } from 'node:child_process';
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
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run a program; resolve with its output, or reject with a typed error that names it. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    log.debug(`+ ${cmd} ${args.map(quoteForLog).join(' ')}`);
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
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
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      outLines(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      err.push(b);
      errLines(b);
    });
    let cancelled = false;
    const onAbort = (): void => {
      cancelled = true;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000).unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e: NodeJS.ErrnoException) => {
      opts.signal?.removeEventListener('abort', onAbort);
      const msg =
        e.code === 'ENOENT'
          ? `${cmd} is not installed (needed for ${opts.what ?? 'this operation'})`
          : `could not run ${cmd}: ${e.message}`;
      reject(
        new AptOstreeError(opts.errorCode ?? 'internal', msg, {
          hint: e.code === 'ENOENT' ? 'run scripts/setup.sh, or install the Debian package that provides it' : undefined,
        }),
      );
    });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (cancelled) {
        reject(new CancelledError());
        return;
      }
      const exit = code ?? 128;
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
