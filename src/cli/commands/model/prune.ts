import type { Argv, CommandModule } from 'yargs';
import { openStore, withStoreOption } from '../../../models/store/cli.js';

type Args = { models: string; keep: number; dryRun: boolean };

/** `edgecam model prune`: free disk space; active and previous are never removed. */
export const command: CommandModule<object, Args> = {
  command: 'prune',
  describe: 'Remove old versions (keeping the newest N, active and previous) and left-overs of interrupted writes',
  builder: (y: Argv) => withStoreOption(y)
    .option('keep', { type: 'number', default: 5, describe: 'Newest versions to keep besides active and previous' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Only show what would be removed' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const { EdgecamError } = await import('../../../errors.js');
    if (!Number.isInteger(argv.keep) || argv.keep < 0) throw new EdgecamError('CLI_BAD_OPTION', '--keep needs a whole number ≥ 0');
    const store = await openStore(argv.models);
    const r = await store.prune({ keep: argv.keep, dryRun: argv.dryRun });
    const verb = argv.dryRun ? 'would remove' : 'removed';
    process.stdout.write(`${verb} ${r.removed.length} version(s)${r.removed.length ? `: ${r.removed.join(', ')}` : ''}; ${verb} ${r.leftovers.length} left-over(s)\n`);
  },
};
