import type { Command } from '@commander-js/extra-typings';
import type { GlobalOptions } from '../globals';
import type { VerbModule } from '../main';

/** `compose` groups the build commands; each subcommand is a file under ./compose. */
const SUBCOMMANDS: readonly string[] = ['tree', 'sysroot', 'image'];

export function register(program: Command, globals: () => GlobalOptions): void {
  const compose = program.command('compose').description('Build trees, sysroots and disk images');
  for (const sub of SUBCOMMANDS) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require(`./compose/${sub}`) as VerbModule).register(compose, globals);
  }
}
