/**
 * `apt-ostree countme` (hidden): what apt-ostree-countme.service runs weekly.
 * See src/engine/countme.ts for what is sent and when.
 */
import type { Command } from '@commander-js/extra-typings';
import { readDaemonKeyFile } from '../../engine/automatic';
import { DEFAULT_COUNTME_CONFIG, parseCountmeConfig, readOsReleaseFor, runCountme } from '../../engine/countme';
import { AptOstreeError } from '../../engine/errors';
import { entryOf } from '../../engine/operations/registry';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import { output, type VerbOutput } from '../output';

interface CountmeOptions {
  config?: string;
  stateDir?: string;
  now?: string;
  json?: boolean;
}

export async function countmeVerb(g: GlobalOptions, opts: CountmeOptions): Promise<VerbOutput> {
  const { keyfile, path } = readDaemonKeyFile(opts.config);
  const config = keyfile ? parseCountmeConfig(keyfile, path) : DEFAULT_COUNTME_CONFIG;
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
  const osRelease = config.enabled && config.endpoints.length > 0 ? await readOsReleaseFor(g.sysroot) : '';
  const report = await runCountme({ config, osRelease, stateDir, now });
  if (opts.json) return output(JSON.stringify(report, null, 2) + '\n');
  if (report.disabled) return output(`countme: nothing sent: ${report.disabled}\n`);
  const lines = report.outcomes.map((o) => {
    const what =
      o.result === 'sent'
        ? `counted (countme=${o.bucket}, HTTP ${o.status})`
        : o.result === 'skipped'
          ? `skipped: ${o.reason}`
          : `failed: ${o.error} (retried at the next run)`;
    return `countme: ${new URL(o.endpoint).host}: ${what}\n`;
  });
  return output(lines.join(''));
}

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  defineCommand(program, entryOf(['countme'])!).action(async (opts) => done(await countmeVerb(globals(), opts as CountmeOptions)));
}
