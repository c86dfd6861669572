import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

/**
 * `apt-ostree automatic-update --trigger` (hidden): what
 * apt-ostreed-automatic.service runs daily. Asks the daemon to run its
 * automatic update policy (AutomaticUpdateTrigger); --mode/--scope override
 * the configured ones for this run, as rpm-ostree's
 * `upgrade --trigger-automatic-update-policy` with its mode option.
 */
export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('automatic-update', { hidden: true })
    .description('Run the automatic update policy once (AutomaticUpdatePolicy in apt-ostreed.conf)')
    .option('--trigger', 'run the configured policy (the default action)')
    .option('--mode <mode>', 'none, check or stage, instead of the configured policy')
    .option('--scope <scope>', 'full or security, instead of the configured scope')
    .action(async (opts) => {
      const { parsePolicy, parseScope } = await import('../../engine/automatic');
      const { AptOstreeError } = await import('../../engine/errors');
      const mode = opts.mode === undefined ? undefined : parsePolicy(opts.mode);
      if (opts.mode !== undefined && !mode) throw new AptOstreeError('usage', `--mode ${opts.mode}: expected none, check or stage`);
      const scope = opts.scope === undefined ? undefined : parseScope(opts.scope);
      if (opts.scope !== undefined && !scope) throw new AptOstreeError('usage', `--scope ${opts.scope}: expected full or security`);
      const { executeOperation } = await import('../backend');
      const r = await executeOperation(globals(), { kind: 'automatic-update', options: { mode, scope } });
      process.stdout.write(`${r.summary}\n`);
    });
}
