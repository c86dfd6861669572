/**
 * apt-ostree: the command-line client. A thin layer: parse arguments, build
 * an engine request or query, run it, and write what the verb's handler
 * returned (its output and exit code).
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { AptOstreeError, isAptOstreeError } from '../engine/errors';
import { log, parseLogLevel } from '../engine/log';
import { ENTRIES } from '../engine/operations/registry';
import { VERSION } from '../engine/version';
import { defineCommand } from './define';
import { sysrootFromEnv, type GlobalOptions } from './globals';
import { output, type VerbOutput } from './output';
import { loadVerb, VERBS } from './verbs';

/**
 * The verb a command line invokes, when it names one of VERBS (or an alias):
 * then only that verb's module is loaded (start-up time matters for
 * `status`). Anything else (help, a typo) loads none: the verbs are declared
 * from the registry alone, so that commander can show help or explain.
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
    if (VERBS.includes(a)) return a;
    return ENTRIES.find((e) => e.verb.length === 1 && e.aliases?.includes(a))?.verb[0];
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
  if (only !== undefined) {
    loadVerb(only).register(program, globals, done, only);
    return program;
  }
  // Help, or a command line commander will refuse: the declarations are enough.
  for (const e of ENTRIES) {
    const parent = e.verb.length === 1 ? program : program.commands.find((c) => c.name() === e.verb[0]);
    if (parent) defineCommand(parent as Command, e);
  }
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
