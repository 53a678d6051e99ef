import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';

/**
 * `edgecam model <subcommand>`: each file in ./model exports `command: CommandModule` and is found
 * here (like src/cli/main.ts), so wrap / inspect / list / activate / install … live in their own files.
 * Subcommand modules are light: they import heavy libraries inside their handlers.
 */
async function loadSubcommands(): Promise<CommandModule[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'model');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.js')).sort();
  const modules = await Promise.all(files.map((f) => import(join(dir, f)) as Promise<{ command?: CommandModule }>));
  return modules.flatMap((m) => (m.command ? [m.command] : []));
}

const subcommands = await loadSubcommands();

export const command: CommandModule = {
  command: 'model <command>',
  describe: 'Make, inspect and manage model folders (model.onnx + manifest.json)',
  builder: (y: Argv) => {
    for (const c of subcommands) y.command(c);
    return y.demandCommand(1, 'Name a model subcommand; `edgecam model --help` lists them.');
  },
  handler: () => {},
};
