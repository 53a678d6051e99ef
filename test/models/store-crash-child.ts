/**
 * Child process for store-crash.test.ts: performs store changes and, at the checkpoint named in argv, says so on
 * stdout and waits to be killed with SIGKILL. Run without arguments (as the test runner may do), it does nothing.
 *   node store-crash-child.js <root> <mode: install|rollback|churn> <kill-at step | ->
 */
import { ModelStore } from '../../src/models/store.js';
import { silentLogger } from '../../src/logger.js';
import { tinyClassifierOnnx, tinyManifest } from '../fakes/onnx-fixtures.js';

const [root, mode, killAt] = process.argv.slice(2);

async function main(): Promise<void> {
  if (!root || !mode) return;
  const store = new ModelStore({
    logger: silentLogger(),
    checkpoint: async (step) => {
      if (step !== killAt) return;
      process.stdout.write(`AT ${step}\n`);
      await new Promise(() => undefined); // wait for SIGKILL
    },
  }, root);
  const add = (v: string, seed: number) => store.add({ modelBytes: tinyClassifierOnnx({ seed, inputSize: 64 }), manifest: { ...tinyManifest({ version: v, inputSize: 64 }), created: new Date(Date.UTC(2024, 0, 1, 0, 0, seed)).toISOString() } }, { status: 'installed' });
  if (mode === 'install') {
    await add('v2', 2);
    await store.activate('v2');
  } else if (mode === 'rollback') {
    await store.rollback();
  } else if (mode === 'churn') {
    process.stdout.write('READY\n');
    for (let i = 3; ; i++) {
      await add(`c${i}`, i);
      await store.activate(`c${i}`);
      if (i % 3 === 0) await store.rollback();
      if (i % 4 === 0) await store.prune({ keep: 2 });
    }
  }
  process.stdout.write('DONE\n');
}

void main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
