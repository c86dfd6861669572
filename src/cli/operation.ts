/**
 * The verbs that are operations with no behaviour of their own (install,
 * upgrade, override remove, ...): registered from their registry entries;
 * the action builds the request as the registry says, runs it (through the
 * daemon, or in-process), and returns the result's output.
 */
import type { Command } from '@commander-js/extra-typings';
import { entryOf, OPERATIONS, subEntries, type AnyOperation } from '../engine/operations/registry';
import { executeOperation } from './backend';
import { defineCommand, requestFromCli } from './define';
import type { GlobalOptions } from './globals';
import { resultOutput, type VerbOutput } from './output';

/** Run an operation verb: its request from the command line, executed, its output. */
export async function runOperationVerb(
  e: AnyOperation,
  g: GlobalOptions,
  positionals: readonly unknown[],
  opts: Record<string, unknown>,
  extra?: ReadonlyMap<string, unknown>,
): Promise<VerbOutput> {
  const { request, client } = requestFromCli(e, positionals, opts, extra);
  const r = await executeOperation({ ...g, queue: client.queue === true }, request);
  return resultOutput(r, { unchangedExit77: client['unchanged-exit-77'] === true });
}

/** The commander action of an operation entry: (positionals..., opts, command). */
export function operationAction(
  e: AnyOperation,
  globals: () => GlobalOptions,
  done: (o: VerbOutput) => void,
): (...a: unknown[]) => Promise<void> {
  return async (...a: unknown[]) => {
    const opts = a[e.positionals.length] as Record<string, unknown>;
    done(await runOperationVerb(e, globals(), a.slice(0, e.positionals.length), opts));
  };
}

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void, verb: string): void {
  const own = (OPERATIONS as readonly AnyOperation[]).filter((e) => e.verb[0] === verb);
  if (own.length === 1 && own[0]!.verb.length === 1) {
    const e = own[0]!;
    defineCommand(program, e).action(operationAction(e, globals, done));
    return;
  }
  // A group (override): its subcommands.
  const group = defineCommand(program, entryOf([verb])!);
  for (const e of subEntries(verb) as AnyOperation[]) defineCommand(group, e).action(operationAction(e, globals, done));
}
