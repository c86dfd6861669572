/**
 * apt-ostree: the command-line client. A thin layer: parse arguments, build
 * an engine request or query, run it, and write what the verb's handler
 * returned (its output and exit code).
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { AptOstreeError, isAptOstreeError } from '../engine/errors';
import { log, parseLogLevel } from '../engine/log';
import { VERSION } from '../engine/version';
import { sysrootFromEnv, type GlobalOptions } from './globals';
import { output, type VerbOutput } from './output';
import { loadVerb, VERBS } from './verbs';

/**
 * The verb a command line invokes, when it names one of VERBS directly: then
 * only that verb's module is loaded (start-up time matters for `status`).
 * Anything else (help, an alias, a typo) loads them all, so that commander
 * can resolve or explain it.
 */
export function invokedVerb(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--sysroot' || a === '--log-level') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return VERBS.includes(a) ? a : undefined;
  }
  return undefined;
}

/** The program, with the verbs `argv` needs; what the handlers and commander print goes to `sink`. */
export function buildProgram(argv: readonly string[], sink: VerbOutput): Command {
  const program = new Command()
    .name('apt-ostree')
    .description('Atomic, image-based package management for Debian on OSTree')
    .version(VERSION, '--version')
    .option('--sysroot <path>', 'OSTree sysroot to act on (environment APT_OSTREE_SYSROOT)', sysrootFromEnv())
    .option('--log-level <level>', 'error, warning, notice, info or debug', process.env.APT_OSTREE_LOG_LEVEL ?? 'warning')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureOutput({
    writeOut: (s) => (sink.stdout += s),
    writeErr: (s) => (sink.stderr += s),
    outputError: (s, write) => write(s),
  });
  const globals = (): GlobalOptions => ({ sysroot: program.opts().sysroot });
  const done = (o: VerbOutput): void => {
    sink.stdout += o.stdout;
    sink.stderr += o.stderr;
    sink.exitCode = o.exitCode;
  };
  program.hook('preAction', () => {
    const lvl = parseLogLevel(program.opts().logLevel);
    if (!lvl) throw new AptOstreeError('usage', `unknown log level "${program.opts().logLevel}"`);
    log.setLevel(lvl);
  });
  const only = invokedVerb(argv);
  for (const verb of only !== undefined ? [only] : VERBS) loadVerb(verb).register(program, globals, done, verb);
  return program;
}

/** An error for a user: message, details, hint; never a stack trace for a typed error. */
export function errorText(e: unknown): string {
  if (isAptOstreeError(e)) return `error: ${e.describe()}\n`;
  const err = e instanceof Error ? e : new Error(String(e));
  return `error: internal error: ${err.message}\n${err.stack ?? ''}\n`;
}

/** Parse and run a command line; returns what to print and the exit code. */
export async function run(argv: readonly string[]): Promise<VerbOutput> {
  const sink = output();
  try {
    await buildProgram(argv, sink).parseAsync(argv as string[]);
  } catch (e) {
    if (e instanceof CommanderError) sink.exitCode = e.exitCode === 0 ? 0 : 1;
    else {
      sink.stderr += errorText(e);
      sink.exitCode = 1;
    }
  }
  return sink;
}

export function main(argv: string[]): void {
  void run(argv).then((o) => {
    if (o.stdout !== '') process.stdout.write(o.stdout);
    if (o.stderr !== '') process.stderr.write(o.stderr);
    process.exitCode = o.exitCode;
  });
}
