/** Options every apt-ostree command shares. */
export interface GlobalOptions {
  /** Path of the OSTree sysroot to act on. */
  sysroot: string;
  /** --queue of a changing command: wait for a running transaction instead of failing (daemon path). */
  queue?: boolean;
}

export function sysrootFromEnv(): string {
  return process.env.APT_OSTREE_SYSROOT && process.env.APT_OSTREE_SYSROOT !== '' ? process.env.APT_OSTREE_SYSROOT : '/';
}

/** Exit status of a command: 0 done, 1 failed, 77 nothing changed (with --unchanged-exit-77). */
export const EXIT_UNCHANGED = 77;
