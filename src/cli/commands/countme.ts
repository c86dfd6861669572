import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

/**
 * `apt-ostree countme` (hidden): what apt-ostree-countme.service runs weekly.
 * See src/engine/countme.ts for what is sent and when.
 */
export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('countme', { hidden: true })
    .description('Send the anonymous usage count if one is due in this 7-day window')
    .option('--config <path>', 'configuration file (default: /etc/apt-ostree/apt-ostreed.conf)')
    .option('--state-dir <dir>', 'where the window state is kept (default: $STATE_DIRECTORY, else /var/lib/apt-ostree/countme)')
    .option('--now <time>', 'pretend the current time is this ISO 8601 date (tests)')
    .option('--json', 'print the outcome as JSON')
    .action(async (opts) => {
      const countme = await import('../../engine/countme');
      const { AptOstreeError } = await import('../../engine/errors');
      const { readDaemonKeyFile } = await import('../../engine/automatic');
      const g = globals();
      const { keyfile, path } = readDaemonKeyFile(opts.config);
      const config = keyfile ? countme.parseCountmeConfig(keyfile, path) : countme.DEFAULT_COUNTME_CONFIG;
      let now: (() => Date) | undefined;
      if (opts.now !== undefined) {
        const t = new Date(opts.now);
        if (Number.isNaN(t.getTime())) throw new AptOstreeError('usage', `--now ${opts.now} is not a date`);
        now = () => t;
      }
      const stateDir =
        opts.stateDir ??
        (process.env.STATE_DIRECTORY && process.env.STATE_DIRECTORY !== ''
          ? process.env.STATE_DIRECTORY.split(':')[0]!
          : '/var/lib/apt-ostree/countme');
      const osRelease = config.enabled && config.endpoints.length > 0 ? await countme.readOsReleaseFor(g.sysroot) : '';
      const report = await countme.runCountme({ config, osRelease, stateDir, now });
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      if (report.disabled) {
        process.stdout.write(`countme: nothing sent: ${report.disabled}\n`);
        return;
      }
      for (const o of report.outcomes) {
        const what =
          o.result === 'sent'
            ? `counted (countme=${o.bucket}, HTTP ${o.status})`
            : o.result === 'skipped'
              ? `skipped: ${o.reason}`
              : `failed: ${o.error} (retried at the next run)`;
        process.stdout.write(`countme: ${new URL(o.endpoint).host}: ${what}\n`);
      }
    });
}
