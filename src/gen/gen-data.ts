/**
 * Writes the artifacts derived from the operation registry (run by
 * `npm run build`, after tsc): the polkit policy and the D-Bus introspection
 * into data/ (committed; a unit test checks they match the registry), the
 * man pages (gzipped) into dist/man/, the bash completion into
 * dist/completion/.
 *
 *   node dist/src/gen/gen-data.js [ROOT]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { renderCompletion, renderIntrospection, renderManCli, renderManConf, renderManDaemon, renderPolicy } from './render';

/** The man pages: file name (section in the name) and text. */
export const MAN_PAGES: ReadonlyArray<[string, () => string]> = [
  ['apt-ostree.1', renderManCli],
  ['apt-ostreed.8', renderManDaemon],
  ['apt-ostreed.conf.5', renderManConf],
];

export function generate(root: string): string[] {
  const written: string[] = [];
  const put = (path: string, data: string | Buffer): void => {
    mkdirSync(resolve(path, '..'), { recursive: true });
    writeFileSync(path, data);
    written.push(path);
  };
  put(join(root, 'data', 'org.aptostree.dev.policy'), renderPolicy());
  put(join(root, 'data', 'org.aptostree.dev.xml'), renderIntrospection());
  for (const [name, render] of MAN_PAGES) {
    const text = render();
    put(join(root, 'dist', 'man', name), text);
    // Fixed mtime in the gzip header: the same input gives the same bytes.
    put(join(root, 'dist', 'man', `${name}.gz`), gzipSync(Buffer.from(text), { level: 9 }));
  }
  put(join(root, 'dist', 'completion', 'apt-ostree'), renderCompletion());
  return written;
}

if (require.main === module) {
  generate(resolve(process.argv[2] ?? join(__dirname, '..', '..', '..')));
}
