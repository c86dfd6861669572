/**
 * The apt-ostree executable's entry (bin/apt-ostree). `status` is what users
 * run most and wait for: a plain `status` command line is handled here,
 * without commander or any other verb (the bundle of this module holds only
 * the status path). Every other command line, and any status command line
 * this does not recognize exactly (help, a bundled short flag, an unknown
 * option), goes to the full CLI (./main), which parses and reports it as
 * always.
 */
import { isAptOstreeError } from '../engine/errors';
import { log, parseLogLevel, type LogLevel } from '../engine/log';
import { runStatus, type StatusFlags } from './commands/status';
import { sysrootFromEnv } from './globals';
import type { main as fullMain } from './main';

export interface StatusInvocation {
  sysroot: string;
  logLevel: LogLevel;
  flags: StatusFlags;
}

/**
 * The status invocation `argv` is, when it is one of the plain forms: the
 * verb `status`, its --json, -b/--booted, -v/--verbose, and the global
 * --sysroot and --log-level (either `--opt value` or `--opt=value`, before or
 * after the verb), as commander would read them; else undefined.
 */
export function statusInvocation(argv: readonly string[]): StatusInvocation | undefined {
  let sysroot = sysrootFromEnv();
  let level = process.env.APT_OSTREE_LOG_LEVEL ?? 'warning';
  const flags: StatusFlags = {};
  let verb = false;
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (name === '--sysroot' || name === '--log-level') {
      const value = name !== a ? a.slice(eq + 1) : args[++i];
      if (value === undefined || value === '' || value.startsWith('-')) return undefined;
      if (name === '--sysroot') sysroot = value;
      else level = value;
      continue;
    }
    if (!verb) {
      if (a !== 'status') return undefined;
      verb = true;
      continue;
    }
    if (a === '--json') flags.json = true;
    else if (a === '-b' || a === '--booted') flags.booted = true;
    else if (a === '-v' || a === '--verbose') flags.verbose = true;
    else return undefined;
  }
  const logLevel = parseLogLevel(level);
  if (!verb || logLevel === undefined) return undefined;
  return { sysroot, logLevel, flags };
}

/** As the full CLI reports an error (./main reportError): typed errors without a stack trace. */
function reportError(e: unknown): number {
  if (isAptOstreeError(e)) {
    process.stderr.write(`error: ${e.describe()}\n`);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`error: internal error: ${err.message}\n${err.stack ?? ''}\n`);
  return 1;
}

export function main(argv: string[]): void {
  const inv = statusInvocation(argv);
  if (!inv) {
    // Lazy on purpose: the full CLI (commander, every verb) is loaded only for other commands.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./main') as { main: typeof fullMain }).main(argv);
    return;
  }
  log.setLevel(inv.logLevel);
  runStatus(inv.sysroot, inv.flags).then(
    () => {
      process.exitCode = process.exitCode ?? 0;
    },
    (e: unknown) => {
      process.exitCode = reportError(e);
    },
  );
}
