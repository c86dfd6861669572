/** `compose` groups the build commands; each subcommand is a file under ./compose. */
import type { Command } from '@commander-js/extra-typings';
import { entryOf } from '../../engine/operations/registry';
import { defineCommand } from '../define';
import type { GlobalOptions } from '../globals';
import type { VerbOutput } from '../output';
import * as image from './compose/image';
import * as sysroot from './compose/sysroot';
import * as tree from './compose/tree';

export function register(program: Command, globals: () => GlobalOptions, done: (o: VerbOutput) => void): void {
  const compose = defineCommand(program, entryOf(['compose'])!);
  for (const sub of [tree, sysroot, image]) sub.register(compose, globals, done);
}
