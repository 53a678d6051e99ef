import type { Argv, CommandModule } from 'yargs';
import { openStore, withStoreOption } from '../../../models/store/cli.js';

type Args = { models: string };

/** `edgecam model rollback`: serve the previous version again. */
export const command: CommandModule<object, Args> = {
  command: 'rollback',
  describe: 'Serve the previous model version again (run twice to undo)',
  builder: (y: Argv) => withStoreOption(y) as unknown as Argv<Args>,
  handler: async (argv) => {
    const store = await openStore(argv.models);
    const r = await store.rollback();
    process.stdout.write(`active: ${r.active}${r.previous ? ` (was ${r.previous})` : ''}\n`);
  },
};
