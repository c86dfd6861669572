import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  const override = program.command('override').description('Remove or replace packages of the base in a new deployment');
  const common = <T extends Command<[string[]], Record<string, unknown>>>(c: T): T =>
    c
      .option('-n, --dry-run', 'show what would change; deploy nothing')
      .option('-C, --cache-only', 'use only cached APT metadata and packages (no network)')
      .option('-r, --reboot', 'reboot after deploying')
      .option('--unchanged-exit-77', 'exit 77 when nothing changed') as T;
  type Opts = { dryRun?: boolean; cacheOnly?: boolean; reboot?: boolean; unchangedExit77?: boolean; all?: boolean };
  const run = async (
    o: Opts,
    req: (opts: { dryRun: boolean; cacheOnly: boolean; reboot: boolean }) => import('../../engine/operations/types').OperationRequest,
  ): Promise<void> => {
    const { executeOperation } = await import('../backend');
    const { reportResult } = await import('../report');
    const r = await executeOperation(
      globals(),
      req({ dryRun: o.dryRun === true, cacheOnly: o.cacheOnly === true, reboot: o.reboot === true }),
    );
    reportResult(globals(), r, { unchangedExit77: o.unchangedExit77 });
  };
  common(override.command('remove').description('Leave out packages of the base').argument('<packages...>', 'base package names')).action(
    async (packages, o) => run(o as Opts, (options) => ({ kind: 'override-remove', packages, options })),
  );
  common(
    override.command('replace').description('Replace packages of the base by local .deb files').argument('<debs...>', '.deb files'),
  ).action(async (debs, o) => run(o as Opts, (options) => ({ kind: 'override-replace', debs, options })));
  common(
    override
      .command('reset')
      .description('Undo overrides of base packages')
      .argument('[packages...]', 'package names')
      .option('-a, --all', 'undo every override'),
  ).action(async (packages, o) =>
    run(o as Opts, (options) => ({ kind: 'override-reset', packages, all: (o as Opts).all === true, options })),
  );
}
