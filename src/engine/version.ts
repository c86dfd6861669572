/** The version of apt-ostree, as the CLI, the daemon and the Debian package report it. */
export const VERSION = '0.1.0';
