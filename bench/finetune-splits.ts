/**
 * bench/finetune-splits: how much of bench/learning-loop's val accuracy is the recipe and how much the holdout draw.
 * The holdout is fixed per frame id, and frame ids carry the time they were kept, so every bench run holds back
 * another 20 % of pets/train. This replays the fine-tune's head training (same defaults, same embeddings: the
 * folder's cache, plain and mirrored) on N salted holdout draws and scores each head on pets/val.
 *   BENCH_KEEP=1 ./bench/learning-loop      # prints its work folder; keep it
 *   node dist/bench/finetune-splits.js <work folder> [splits=14] [variant…]
 * Variants: recipe (FINETUNE_DEFAULTS, and no mirrors on a backbone with test-time views, as the fine-tune does),
 * plain (no mirror, no weight decay), no-mirror, no-decay, mirror (mirrors + decay).
 * Prints one line per variant: mean, min, max and each draw's accuracy, in %.
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listFrames } from '../src/collect/frames.js';
import { createClassifier } from '../src/inference/engine.js';
import { initTrainingBackend } from '../src/learn/backend/index.js';
import { EmbeddingCache, embedFiles } from '../src/learn/embeddings.js';
import { defaultCacheDir, FINETUNE_DEFAULTS as D } from '../src/learn/finetune-options.js';
import { silentLogger } from '../src/logger.js';
import { ModelStore } from '../src/models/store.js';
import { preprocessSpecOf } from '../src/models/manifest.js';
import { preprocessImage } from '../src/preprocess/image.js';
import { trainsOnMirrors } from '../src/learn/finetune.js';
import { classFolderFiles, drawSummary, headAccuracy, pickRows } from './head-draws.js';

const VARIANTS: Record<string, { mirror: boolean; weightDecay: number }> = {
  recipe: { mirror: D.mirror, weightDecay: D.weightDecay }, plain: { mirror: false, weightDecay: 0 },
  'no-mirror': { mirror: false, weightDecay: D.weightDecay }, 'no-decay': { mirror: D.mirror, weightDecay: 0 },
  mirror: { mirror: true, weightDecay: D.weightDecay },
};

async function main(): Promise<void> {
  const [workArg, splitsArg, ...names] = process.argv.slice(2);
  if (!workArg) throw new Error('usage: node dist/bench/finetune-splits.js <learning-loop work folder (BENCH_KEEP=1)> [splits] [variant…]');
  const work = resolve(workArg);
  const shared = resolve(process.env.EDGECAM_SHARED ?? join(fileURLToPath(new URL('../..', import.meta.url)), '../shared'));
  const splits = Number(splitsArg ?? 14);
  const logger = silentLogger();
  await initTrainingBackend({ logger, threads: 1 });
  const store = new ModelStore({ logger }, join(work, 'models'));
  const seed = await store.load('seed');
  const size = seed.manifest.output.embedding!.size;
  const labels = seed.manifest.labels;
  const backbone = await createClassifier({ logger }, { folder: seed, providers: ['cpu'] });
  const spec = preprocessSpecOf(seed.manifest);
  const frames = (await listFrames(join(work, 'collect'))).filter((f) => f.label);
  const cache = new EmbeddingCache(defaultCacheDir(join(work, 'collect')), seed.manifest.provenance.backboneSha256 ?? seed.manifest.sha256, size, preprocessSpecOf(seed.manifest));
  // Row 2i: frame i as the camera saw it, row 2i+1: its mirror (from the cache the fine-tune filled).
  const train = await embedFiles({ logger, preprocess: preprocessImage, backbone, cache }, frames.map((f) => ({ path: f.image, label: labels.indexOf(f.label!) })), { spec, size, mirror: true });
  const valDir = join(shared, 'datasets/pets/val');
  const valFiles = await classFolderFiles(valDir, labels);
  const val = await embedFiles({ logger, preprocess: preprocessImage, backbone, cache: new EmbeddingCache(join(work, 'val-cache'), seed.manifest.sha256, size) }, valFiles, { spec, size });
  await backbone.dispose();
  for (const name of names.length ? names : Object.keys(VARIANTS)) {
    const v = name === 'recipe' ? { ...VARIANTS.recipe!, mirror: trainsOnMirrors(D.mirror, seed.manifest) } : VARIANTS[name];
    if (!v) throw new Error(`unknown variant ${name}; use ${Object.keys(VARIANTS).join(', ')}`);
    const accuracies: number[] = [];
    for (let s = 0; s < splits; s++) {
      const held = (id: string): boolean => createHash('sha256').update(`split${s}:${id}`).digest().readUInt32BE(0) / 2 ** 32 < D.holdoutShare;
      const pick = frames.flatMap((f, i) => (held(f.id) ? [] : v.mirror ? [2 * i, 2 * i + 1] : [2 * i]));
      accuracies.push(await headAccuracy(pickRows(train, pick, size), val, size, labels.length, v.weightDecay));
    }
    process.stdout.write(`${name} ${JSON.stringify(v)}: ${drawSummary(accuracies)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[finetune-splits] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
