/**
 * The CLI's verb table: every verb of the registry, and the module that
 * registers it. A verb with behaviour of its own has a file under
 * ./commands; every other operation is registered from its registry entry
 * by ./operation. Only the invoked verb's module is loaded (start-up time
 * matters for `status`): this is the one place the CLI loads lazily.
 */
import type { Command } from '@commander-js/extra-typings';
import { VERB_NAMES } from '../engine/operations/registry';
import type { GlobalOptions } from './globals';
import type { VerbOutput } from './output';

export interface VerbModule {
  /** Declare the verb on `program`; its action hands its output to `done`. */
  register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void, verb: string): void;
}

export const VERBS: readonly string[] = VERB_NAMES;

/** Verbs with a module of their own under ./commands. */
const OWN_MODULES: readonly string[] = ['status', 'compose', 'db', 'kargs', 'cancel', 'reload', 'bootstatus', 'countme'];

export function loadVerb(verb: string): VerbModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(OWN_MODULES.includes(verb) ? `./commands/${verb}` : './operation') as VerbModule;
}
