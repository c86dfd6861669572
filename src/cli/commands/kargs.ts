/**
 * `apt-ostree kargs`: with no edit, print the kernel arguments of the
 * default deployment; with edits (or --editor, client-only), an operation
 * like any other (ModifyKernelArgs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { AptOstreeError, notFound } from '../../engine/errors';
import { operationOf } from '../../engine/operations/registry';
import { loadSysroot, parseKargs } from '../../engine/sysroot';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import { runOperationVerb } from '../operation';
import { output, type VerbOutput } from '../output';

const EDITS = ['append', 'appendIfMissing', 'delete', 'deleteIfPresent', 'replace'] as const;

export async function kargsVerb(g: GlobalOptions, opts: Record<string, unknown>): Promise<VerbOutput> {
  const anyEdit = EDITS.some((k) => ((opts[k] as string[] | undefined) ?? []).length > 0);
  const e = operationOf('kargs');
  if (!anyEdit && opts.editor !== true) {
    const s = await loadSysroot(g.sysroot);
    const d = s.deployments.find((x) => !x.staged) ?? s.defaultDeployment;
    if (!d) throw notFound(`no deployment in ${s.path}`);
    return output(`${d.kargs.join(' ')}\n`);
  }
  // --editor gives the whole new list (the a{sv} key "set"), applied before the edits.
  const extra = new Map<string, unknown>(opts.editor === true ? [['set', await editInEditor(g.sysroot)]] : []);
  return runOperationVerb(e, g, [], opts, extra);
}

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  defineCommand(program, operationOf('kargs')).action(async (opts) => done(await kargsVerb(globals(), opts as Record<string, unknown>)));
}

async function editInEditor(sysrootPath: string): Promise<string[]> {
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
