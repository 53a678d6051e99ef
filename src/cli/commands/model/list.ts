import type { Argv, CommandModule } from 'yargs';
import { openStore, printJson, withStoreOption } from '../../../models/store/cli.js';

type Args = { models: string; json: boolean };

/** `edgecam model list`: every version in the store, which one serves, which one rollback returns to. */
export const command: CommandModule<object, Args> = {
  command: 'list',
  describe: 'List model versions in the store (active, previous, accepted/rejected with their gate metrics)',
  builder: (y: Argv) => withStoreOption(y).option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const store = await openStore(argv.models);
    const entries = await store.list();
    if (argv.json) {
      printJson(entries.map(({ manifest, ...e }) => ({ ...e, ...(manifest ? { name: manifest.name, created: manifest.created, labels: manifest.labels, parentVersion: manifest.provenance.parentVersion, metrics: manifest.metrics } : {}) })));
      return;
    }
    if (entries.length === 0) {
      process.stdout.write(`No versions in ${store.root}. Add one with \`edgecam model install <folder|file|url>\` or \`edgecam finetune\`.\n`);
      return;
    }
    for (const e of entries) {
      const mark = e.active ? '* active  ' : e.previous ? '  previous' : '          ';
      const acc = (e.gate as { candidateAccuracy?: number } | undefined)?.candidateAccuracy;
      const what = e.manifest ? `${e.manifest.name}, ${e.manifest.labels.length} labels [${e.manifest.labels.slice(0, 6).join(', ')}${e.manifest.labels.length > 6 ? ', …' : ''}], ${e.manifest.created}` : `BROKEN: ${e.error}`;
      process.stdout.write(`${mark} ${e.version.padEnd(24)} ${e.status.padEnd(9)} ${what}${acc !== undefined ? `, holdout accuracy ${(acc * 100).toFixed(1)}%` : ''}${e.reason ? ` (${e.reason})` : ''}\n`);
    }
  },
};
