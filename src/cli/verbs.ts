/**
 * The CLI's verbs, a file each under ./commands. Each module exports
 * `register(program, globals)`, which declares the verb's arguments and options
 * and imports the engine only when the verb runs, so start-up stays small.
 */
export const VERBS: readonly string[] = [
  'status',
  'compose',
];
