import type { Argv, CommandModule } from 'yargs';
import { openStore, withStoreOption } from '../../../models/store/cli.js';

type Args = { models: string; target: string };

/** `edgecam model activate <v>`: serve a stored version (a running daemon with model.watch hot-swaps to it). */
export const command: CommandModule<object, Args> = {
  command: 'activate <target>',
  describe: 'Serve a stored model version (the running daemon swaps to it between frames)',
  builder: (y: Argv) => withStoreOption(y).positional('target', { type: 'string', demandOption: true, describe: 'The version to serve, from `edgecam model list`' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const store = await openStore(argv.models);
    const r = await store.activate(argv.target);
    process.stdout.write(`active: ${r.active}${r.previous ? ` (rollback returns to ${r.previous})` : ''}\n`);
  },
};
