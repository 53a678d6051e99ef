import type { Argv } from 'yargs';

/** `--data`: the collection folder (config collect.dir; same env variable as the daemon). */
export function withDataOption<T>(y: Argv<T>): Argv<T & { data: string }> {
  return y.option('data', {
    type: 'string', default: process.env.EDGECAM_COLLECT_DIR ?? 'data/collect',
    describe: 'Collection folder (unlabelled/ and labelled/<class>/)',
  }) as unknown as Argv<T & { data: string }>;
}
