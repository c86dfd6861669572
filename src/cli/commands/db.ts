import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

export function register(program: Command, globals: () => GlobalOptions): void {
  const db = program.command('db').description('Query the packages of commits (from their metadata; nothing is checked out)');
  db.command('list')
    .argument('[revisions...]', 'commits or refs (default: every deployment)')
    .description('List the packages of commits')
    .option('--json', 'print JSON')
    .action(async (revs, o) => {
      const { dbList } = await import('../../engine/updates/db');
      const list = await dbList(globals().sysroot, revs);
      if (o.json === true) {
        process.stdout.write(
          `${JSON.stringify(
            list.map((e) => ({ revision: e.label, checksum: e.checksum, version: e.version ?? null, packages: e.packages })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      const out: string[] = [];
      for (const e of list) {
        out.push(
          `ostree commit: ${e.label === e.checksum ? e.checksum : `${e.label} (${e.checksum})`}${e.version ? ` version ${e.version}` : ''}`,
        );
        for (const p of e.packages) out.push(` ${p.name}-${p.version}.${p.arch}`);
      }
      process.stdout.write(`${out.join('\n')}\n`);
    });
  db.command('diff')
    .argument('[from]', 'commit or ref to compare from (default: the booted deployment, or the rollback one)')
    .argument('[to]', 'commit or ref to compare to (default: the pending deployment, or the default one)')
    .description('Show the packages added, removed, upgraded and downgraded between two commits')
    .option('--json', 'print JSON')
    .action(async (from, to, o) => {
      const { dbDiff } = await import('../../engine/updates/db');
      const { diffToJson, formatDiff } = await import('../../engine/updates/pkgdiff');
      const r = await dbDiff(globals().sysroot, from, to);
      if (o.json === true) {
        process.stdout.write(
          `${JSON.stringify(
            {
              'ostree-commit-from': r.from.checksum,
              'ostree-commit-to': r.to.checksum,
              from: { revision: r.from.label, checksum: r.from.checksum, version: r.from.version ?? null },
              to: { revision: r.to.label, checksum: r.to.checksum, version: r.to.version ?? null },
              ...diffToJson(r.diff),
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const head = (c: { label: string; checksum: string; version?: string }): string =>
        `${c.label === c.checksum ? c.checksum : `${c.label} ${c.checksum}`}${c.version ? ` (version ${c.version})` : ''}`;
      process.stdout.write(`ostree diff commit from: ${head(r.from)}\nostree diff commit to:   ${head(r.to)}\n${formatDiff(r.diff)}\n`);
    });
}
