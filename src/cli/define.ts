/**
 * Commander commands from registry entries: the verb, its aliases,
 * description, arguments and options (with the derived --queue and
 * --unchanged-exit-77), and the reading of a parsed command line back into
 * the call values the registry builds a request from.
 */
import { Argument, Option, type Command } from '@commander-js/extra-typings';
import { usageError } from '../engine/errors';
import {
  cliOptions,
  keyOf,
  type AnyOperation,
  type CallValues,
  type Entry,
  type OptionSpec,
  type PositionalSpec,
} from '../engine/operations/registry';
import type { OperationRequest } from '../engine/operations/types';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** The commander flags of an option: "-n, --dry-run", "--append <K=V>". */
export function flagsOf(o: OptionSpec): string {
  const value = o.type === 'boolean' ? '' : ` <${o.valueName ?? 'value'}>`;
  return `${o.short ? `-${o.short}, ` : ''}--${o.long}${value}`;
}

function optionOf(o: OptionSpec): Option {
  const opt = new Option(flagsOf(o), o.help);
  if (o.type === 'string-list') opt.argParser(collect).default(o.default ?? []);
  else if (o.default !== undefined) opt.default(o.default);
  if (o.required) opt.makeOptionMandatory(true);
  return opt as unknown as Option;
}

function argumentOf(p: PositionalSpec): Argument {
  const name = `${p.name}${p.variadic ? '...' : ''}`;
  return new Argument(p.required ? `<${name}>` : `[${name}]`, p.help) as unknown as Argument;
}

/** A command whose arguments are declared at run time (from the registry): the action gets them untyped. */
export type RegistryCommand = Command<[unknown, unknown, unknown, unknown], Record<string, unknown>>;

/** The command of an entry under `parent` (the program, or its group command). */
export function defineCommand(parent: Command | RegistryCommand, e: Entry): RegistryCommand {
  const c = (parent as Command)
    .command(e.verb[e.verb.length - 1]!, { hidden: e.traits.hidden === true })
    .description(e.description) as unknown as RegistryCommand;
  for (const a of e.aliases ?? []) c.alias(a);
  for (const p of e.positionals) c.addArgument(argumentOf(p) as never);
  for (const o of cliOptions(e)) c.addOption(optionOf(o) as never);
  return c;
}

/** The attribute commander stores an option under ("dry-run" -> dryRun). */
export const attributeOf = (long: string): string => long.replace(/-([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());

/** The options of a parsed command by long name (as the registry names them). */
export function optionsByLong(e: Entry, opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of cliOptions(e)) out[o.long] = opts[attributeOf(o.long)];
  return out;
}

/** What a command line asks for: the request, and the client-only options. */
export interface CliRequest {
  request: OperationRequest;
  /** Client-only options by long name (unchanged-exit-77, editor, assumeyes, queue...). */
  client: Record<string, unknown>;
}

const choicesText = (c: readonly string[]): string => (c.length < 2 ? c.join('') : `${c.slice(0, -1).join(', ')} or ${c[c.length - 1]}`);

/**
 * The call values of a parsed command line (positionals in order, options
 * by commander attribute), checked by the entry's command-line checks, then
 * built into a request by the registry, as the daemon builds one.
 */
export function requestFromCli(
  e: AnyOperation,
  positionals: readonly unknown[],
  opts: Record<string, unknown>,
  /** Options the verb's own code adds (by a{sv} key; e.g. kargs --editor's "set"). */
  extra: ReadonlyMap<string, unknown> = new Map(),
): CliRequest {
  const byLong = optionsByLong(e, opts);
  const values: CallValues = { args: {}, options: new Map(extra) };
  const client: Record<string, unknown> = {};
  const given = new Set<string>();
  e.positionals.forEach((p, i) => {
    const v = positionals[i];
    if (v !== undefined) values.args[p.arg ?? p.name] = v;
  });
  for (const o of cliOptions(e)) {
    let v = byLong[o.long];
    if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) continue;
    given.add(o.long);
    if (o.choices) {
      const c = String(v).trim().toLowerCase();
      const choice = o.choiceAliases?.[c] ?? c;
      if (!o.choices.includes(choice)) throw usageError(`--${o.long} ${String(v)}: expected ${choicesText(o.choices)}`);
      v = choice;
    }
    if (o.client || o.long === 'queue') client[o.long] = v;
    else if (o.arg !== undefined) {
      const inArg = e.dbus.in.find((x) => x.name === o.arg);
      if (o.argValue === undefined) values.args[o.arg] = v;
      else if (inArg?.type === 'as') values.args[o.arg] = [...((values.args[o.arg] as unknown[] | undefined) ?? []), o.argValue];
      else values.args[o.arg] = o.argValue;
    } else values.options.set(keyOf(o), v);
  }
  e.cliCheck?.(values, given);
  // Integer in-arguments come as text from the command line.
  for (const x of e.dbus.in)
    if (x.type === 'i' && typeof values.args[x.name] === 'string') values.args[x.name] = Number(values.args[x.name]);
  return { request: e.build(values, e.dbus.name), client };
}
