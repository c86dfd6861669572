import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('kargs')
    .description('Show the kernel arguments of the default deployment, or change them (a new deployment of the same commit)')
    .option('--append <K=V>', 'append a kernel argument (repeatable)', collect, [] as string[])
    .option('--append-if-missing <K=V>', 'append unless the key is already there (repeatable)', collect, [] as string[])
    .option('--delete <K[=V]>', 'delete a kernel argument (repeatable)', collect, [] as string[])
    .option('--delete-if-present <K[=V]>', 'delete it if it is there (repeatable)', collect, [] as string[])
    .option('--replace <K=V|K=OLD=NEW>', 'replace the value of a kernel argument (repeatable)', collect, [] as string[])
    .option('--editor', 'edit the kernel arguments in $VISUAL / $EDITOR')
    .option('-r, --reboot', 'reboot afterwards')
    .option('--unchanged-exit-77', 'exit 77 when the kernel arguments did not change')
    .action(async (o) => {
      const edits = {
        append: o.append,
        appendIfMissing: o.appendIfMissing,
        delete: o.delete,
        deleteIfPresent: o.deleteIfPresent,
        replace: o.replace,
      };
      const anyEdit = Object.values(edits).some((l) => l.length > 0);
      const g = globals();
      if (!anyEdit && !o.editor) {
        const { loadSysroot } = await import('../../engine/sysroot');
        const s = await loadSysroot(g.sysroot);
        const d = s.deployments.find((x) => !x.staged) ?? s.defaultDeployment;
        if (!d) {
          const { notFound } = await import('../../engine/errors');
          throw notFound(`no deployment in ${s.path}`);
        }
        process.stdout.write(`${d.kargs.join(' ')}\n`);
        return;
      }
      let set: string[] | undefined;
      if (o.editor) set = await editInEditor(g.sysroot);
      const { executeOperation } = await import('../backend');
      const { reportResult } = await import('../report');
      const r = await executeOperation(g, { kind: 'kargs', ...edits, set, options: { reboot: o.reboot === true } });
      reportResult(g, r, { unchangedExit77: o.unchangedExit77 });
    });
}

async function editInEditor(sysrootPath: string): Promise<string[]> {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadSysroot, parseKargs } = await import('../../engine/sysroot');
  const { AptOstreeError } = await import('../../engine/errors');
  const s = await loadSysroot(sysrootPath);
  const d = s.deployments.find((x) => !x.staged) ?? s.defaultDeployment;
  const dir = mkdtempSync(join(tmpdir(), 'apt-ostree-kargs-'));
  try {
    const file = join(dir, 'kargs');
    writeFileSync(
      file,
      `${(d?.kargs ?? []).join(' ')}\n# Kernel arguments of the default deployment, on one or more lines.\n# Lines starting with '#' are ignored. Save and quit to apply.\n`,
    );
    const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
    // As git and rpm-ostree do: the variable is shell text ("code --wait", quotes), the file its last argument.
    const r = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
    if (r.error || r.status !== 0) {
      throw new AptOstreeError(
        'usage',
        `the editor "${editor}" failed${r.error ? `: ${r.error.message}` : ` (exit code ${r.status})`}; nothing changed`,
      );
    }
    const text = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join(' ');
    return parseKargs(text);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
