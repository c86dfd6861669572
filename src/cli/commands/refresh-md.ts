import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('refresh-md')
    .description("Refresh the APT metadata of the sources the deployment configures (cached in the sysroot's /var/cache/apt-ostree)")
    .option('-f, --force', 'refresh even when the cache is current')
    .action(async (o) => {
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(globals(), { kind: 'refresh-md', options: { force: o.force === true } });
      reportResult(globals(), r);
    });
}
