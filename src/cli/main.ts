#!/usr/bin/env node
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EdgecamError } from '../errors.js';

/**
 * CLI root. Each file in ./commands exports `command: CommandModule`; they are discovered here so
 * adding a command never touches this file. Command modules import heavy libraries (tfjs, sharp,
 * onnxruntime) lazily inside their handlers, so `edgecam --help` and `edgecam run` start fast.
 */
async function loadCommands(): Promise<CommandModule[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.js')).sort();
  const modules = await Promise.all(files.map((f) => import(join(dir, f)) as Promise<{ command?: CommandModule }>));
  return modules.flatMap((m) => (m.command ? [m.command] : []));
}

export async function main(argv: string[]): Promise<void> {
  const commands = await loadCommands();
  let cli = yargs(argv).scriptName('edgecam').strict().demandCommand(1, 'Name a command; `edgecam --help` lists them.')
    .recommendCommands().help().alias('h', 'help').version().wrap(Math.min(110, process.stdout.columns ?? 100));
  for (const c of commands) cli = cli.command(c);
  await cli.fail((msg, err) => {
    if (err) throw err;
    process.stderr.write(`${msg}\nRun \`edgecam --help\` for usage.\n`);
    process.exit(2);
  }).parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  if (err instanceof EdgecamError) {
    process.stderr.write(`edgecam: ${err.message} [${err.code}]\n`);
    process.exit(1);
  }
  process.stderr.write(`edgecam: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
