import type { Argv } from 'yargs';

/** The `--models` option every store command shares: the store root (default ./models, or $EDGECAM_MODELS). */
export function withStoreOption<T>(y: Argv<T>): Argv<T & { models: string }> {
  return y.option('models', {
    type: 'string', default: process.env.EDGECAM_MODELS ?? 'models',
    describe: 'Model store folder (holds versions/, active, previous)',
  }) as unknown as Argv<T & { models: string }>;
}

export async function openStore(root: string): Promise<import('../store.js').ModelStore> {
  const [{ ModelStore }, { createLogger }] = await Promise.all([import('../store.js'), import('../../logger.js')]);
  return new ModelStore({ logger: createLogger({ level: process.env.EDGECAM_LOG_LEVEL ?? 'warn' }) }, root);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
