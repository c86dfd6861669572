/** `apt-ostree db list|diff`: the packages of commits, from their metadata. */
import type { Command } from '@commander-js/extra-typings';
import { entryOf } from '../../engine/operations/registry';
import { dbDiff, dbList } from '../../engine/updates/db';
import { diffToJson, formatDiff } from '../../engine/updates/pkgdiff';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import { output, type VerbOutput } from '../output';

export async function dbListVerb(g: GlobalOptions, revs: string[], json: boolean): Promise<VerbOutput> {
  const list = await dbList(g.sysroot, revs);
  if (json) {
    return output(
      `${JSON.stringify(
        list.map((e) => ({ revision: e.label, checksum: e.checksum, version: e.version ?? null, packages: e.packages })),
        null,
        2,
      )}\n`,
    );
  }
  const out: string[] = [];
  for (const e of list) {
    out.push(
      `ostree commit: ${e.label === e.checksum ? e.checksum : `${e.label} (${e.checksum})`}${e.version ? ` version ${e.version}` : ''}`,
    );
    for (const p of e.packages) out.push(` ${p.name}-${p.version}.${p.arch}`);
  }
  return output(`${out.join('\n')}\n`);
}

export async function dbDiffVerb(g: GlobalOptions, from: string | undefined, to: string | undefined, json: boolean): Promise<VerbOutput> {
  const r = await dbDiff(g.sysroot, from, to);
  if (json) {
    return output(
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
  }
  const head = (c: { label: string; checksum: string; version?: string }): string =>
    `${c.label === c.checksum ? c.checksum : `${c.label} ${c.checksum}`}${c.version ? ` (version ${c.version})` : ''}`;
  return output(`ostree diff commit from: ${head(r.from)}\nostree diff commit to:   ${head(r.to)}\n${formatDiff(r.diff)}\n`);
}

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  const db = defineCommand(program, entryOf(['db'])!);
  defineCommand(db, entryOf(['db', 'list'])!).action(async (revs, o) =>
    done(await dbListVerb(globals(), revs as string[], (o as { json?: boolean }).json === true)),
  );
  defineCommand(db, entryOf(['db', 'diff'])!).action(async (from, to, o) =>
    done(await dbDiffVerb(globals(), from as string | undefined, to as string | undefined, (o as { json?: boolean }).json === true)),
  );
}
