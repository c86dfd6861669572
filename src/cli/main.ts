/**
 * apt-ostree: the command-line client. A thin layer: parse arguments, build
 * an engine request or query, render the result.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { AptOstreeError, isAptOstreeError } from '../engine/errors';
import { log, parseLogLevel } from '../engine/log';
import { sysrootFromEnv, type GlobalOptions } from './globals';
import { VERBS } from './verbs';

export interface VerbModule {
  register(program: Command, globals: () => GlobalOptions): void;
}

const VERSION = '0.1.0';

/** Verbs that change the system through a transaction (they accept --queue). */
const QUEUE_VERBS = new Set([
  'install',
  'uninstall',
  'override',
  'reset',
  'refresh-md',
  'upgrade',
  'deploy',
  'rebase',
  'rollback',
  'kargs',
  'initramfs',
  'cleanup',
  'pin',
]);

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

export function buildProgram(argv: readonly string[] = []): Command {
  const program = new Command()
    .name('apt-ostree')
    .description('Atomic, image-based package management for Debian on OSTree')
    .version(VERSION, '--version')
    .option('--sysroot <path>', 'OSTree sysroot to act on (environment APT_OSTREE_SYSROOT)', sysrootFromEnv())
    .option('--log-level <level>', 'error, warning, notice, info or debug', process.env.APT_OSTREE_LOG_LEVEL ?? 'warning')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str) });
  let queue = false;
  const globals = (): GlobalOptions => {
    const o = program.opts();
    return { sysroot: o.sysroot, queue };
  };
  program.hook('preAction', (_program, action) => {
    queue = (action.opts() as { queue?: boolean }).queue === true;
    const lvl = parseLogLevel(program.opts().logLevel);
    if (!lvl) throw new AptOstreeError('usage', `unknown log level "${program.opts().logLevel}"`);
    log.setLevel(lvl);
  });
  const only = invokedVerb(argv);
  for (const verb of only !== undefined ? [only] : VERBS) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(`./commands/${verb}`) as VerbModule;
    mod.register(program, globals);
  }
  // --queue on every command that makes a transaction (the daemon's option "queue").
  const addQueue = (c: Command): void => {
    if (c.commands.length === 0) c.option('--queue', 'if another transaction is in progress, wait for it instead of failing');
    for (const sub of c.commands) addQueue(sub as unknown as Command);
  };
  for (const c of program.commands) if (QUEUE_VERBS.has(c.name())) addQueue(c as unknown as Command);
  return program;
}

/** Print an error for a user: message, details, hint; never a stack trace for a typed error. */
export function reportError(e: unknown): number {
  if (isAptOstreeError(e)) {
    process.stderr.write(`error: ${e.describe()}\n`);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`error: internal error: ${err.message}\n${err.stack ?? ''}\n`);
  return 1;
}

export function main(argv: string[]): void {
  const program = buildProgram(argv);
  program
    .parseAsync(argv)
    .then(() => {
      process.exitCode = process.exitCode ?? 0;
    })
    .catch((e: unknown) => {
      if (e instanceof CommanderError) {
        process.exitCode = e.exitCode === 0 ? 0 : 1;
        return;
      }
      process.exitCode = reportError(e);
    });
}
