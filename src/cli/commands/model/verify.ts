import type { Argv, CommandModule } from 'yargs';
import { openStore, printJson, withStoreOption } from '../../../models/store/cli.js';

type Args = { models: string; json: boolean };

/** `edgecam model verify`: every version loads (sha256, manifest vs graph) and both pointers name good versions. */
export const command: CommandModule<object, Args> = {
  command: 'verify',
  describe: 'Check every stored version (sha256, manifest vs graph) and the active/previous pointers',
  builder: (y: Argv) => withStoreOption(y).option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const store = await openStore(argv.models);
    const report = await store.verify();
    const { ModelError } = await import('../../../errors.js');
    if (argv.json) printJson(report);
    else {
      for (const v of report.versions) process.stdout.write(`${v.ok ? 'ok    ' : 'BROKEN'} ${v.version}${v.error ? `: ${v.error}` : ''}\n`);
      process.stdout.write(`active: ${report.active ?? '(none)'}, previous: ${report.previous ?? '(none)'}\n`);
      if (report.leftovers.length) process.stdout.write(`left-overs of interrupted writes (harmless; \`edgecam model prune\` removes them): ${report.leftovers.join(', ')}\n`);
    }
    if (!report.ok) throw new ModelError('STORE_INVALID', `the store ${store.root} has problems:\n  - ${report.problems.join('\n  - ')}`);
  },
};
