/**
 * The CLI's verbs, a file each under ./commands. Each module exports
 * `register(program, globals)`, which declares the verb's arguments and options
 * and imports the engine only when the verb runs, so start-up stays small.
 */
export const VERBS: readonly string[] = [
  'status',
  'compose',
  // sysroot and boot configuration
  'rollback',
  'kargs',
  'cleanup',
  'pin',
  // updates from a remote, and package queries
  'upgrade',
  'deploy',
  'rebase',
  'initramfs',
  'db',
  // package layering
  'install',
  'uninstall',
  'override',
  'reset',
  'refresh-md',
  // the daemon's transactions
  'cancel',
  // issue 6 (hidden: run by systemd units)
  'bootstatus',
  'countme',
  'automatic-update',
  'reload',
];
