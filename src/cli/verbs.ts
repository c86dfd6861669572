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

/*
 * Verbs with a module of their own under ./commands, and the module of every
 * other operation. Literal require() calls, so that the bundler includes each
 * module and still evaluates it only when its verb is invoked.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the one lazy-loading place of the CLI */
const OWN_MODULES: Readonly<Record<string, () => VerbModule>> = {
  status: () => require('./commands/status') as VerbModule,
  compose: () => require('./commands/compose') as VerbModule,
  db: () => require('./commands/db') as VerbModule,
  kargs: () => require('./commands/kargs') as VerbModule,
  cancel: () => require('./commands/cancel') as VerbModule,
  reload: () => require('./commands/reload') as VerbModule,
  bootstatus: () => require('./commands/bootstatus') as VerbModule,
  countme: () => require('./commands/countme') as VerbModule,
};

export function loadVerb(verb: string): VerbModule {
  return (OWN_MODULES[verb] ?? ((): VerbModule => require('./operation') as VerbModule))();
}
/* eslint-enable @typescript-eslint/no-require-imports */
