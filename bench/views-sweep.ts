/**
 * bench/views-sweep: which test-time views give the fine-tune's linear head the best MobileNetV2 features on pets.
 * For each view set it pulls the backbone from ../shared (squash resize, as the shipped pets model) with those views
 * baked into the graph, embeds pets/train and pets/val through ONNX Runtime with the real preprocessing, then trains
 * the fine-tune's head (bench/head-draws.ts) on random 200-per-class subsets of train (what a 20 % holdout leaves)
 * and scores each on val.
 *   node dist/bench/views-sweep.js [draws=10] [views…]      views: 224 | 256,320 | 256,320+mirror | 224+mirror …
 * Prints one line per view set: mean, min, max and each draw's accuracy, in %. ~1-3 minutes per view set here.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClassifier } from '../src/inference/engine.js';
import { initTrainingBackend } from '../src/learn/backend/index.js';
import { EmbeddingCache, embedFiles } from '../src/learn/embeddings.js';
import { pullModel } from '../src/learn/pull.js';
import { createRng, shuffleInPlace } from '../src/learn/random.js';
import { silentLogger } from '../src/logger.js';
import { preprocessSpecOf, type TestTimeViews } from '../src/models/manifest.js';
import { preprocessImage } from '../src/preprocess/image.js';
import { classFolderFiles, drawSummary, headAccuracy, pickRows } from './head-draws.js';

const SHARED = resolve(process.env.EDGECAM_SHARED ?? join(fileURLToPath(new URL('../..', import.meta.url)), '../shared'));
const LABELS = ['cat', 'dog', 'none'];
const PER_CLASS = 200;

/** "256,320+mirror" → views; "224" → none (the backbone's own size). */
function parseViews(text: string): TestTimeViews | undefined {
  const [sizes = '', mirror] = text.split('+');
  const scales = sizes.split(',').map(Number);
  if (scales.some((s) => !Number.isInteger(s)) || (mirror !== undefined && mirror !== 'mirror')) throw new Error(`bad view set "${text}"; e.g. 224, 224+mirror, 256,320`);
  if (scales.length === 1 && scales[0] !== 224) throw new Error(`one size other than 224 cannot be baked in; give two or more (e.g. 256,320)`);
  const views = { ...(scales.length > 1 ? { scales } : {}), ...(mirror ? { mirror: true } : {}) };
  return Object.keys(views).length ? views : undefined;
}

async function main(): Promise<void> {
  const [drawsArg, ...sets] = process.argv.slice(2);
  const draws = Number(drawsArg ?? 10);
  const logger = silentLogger();
  await initTrainingBackend({ logger, threads: 1 });
  const work = await mkdtemp(join(tmpdir(), 'edgecam-views-sweep-'));
  try {
    const pets = (part: string) => classFolderFiles(join(SHARED, 'datasets/pets', part), LABELS);
    const [trainFiles, valFiles] = [await pets('train'), await pets('val')];
    for (const text of sets.length ? sets : ['224', '224+mirror', '256,288', '256,320', '256,320+mirror', '256,288,320']) {
      const views = parseViews(text);
      const out = join(work, text.replace(/[^0-9a-z]+/g, '-'));
      const { folder } = await pullModel({ logger }, { name: 'mobilenetv2', file: join(SHARED, 'models/mobilenetv2-12-int8.onnx'), out, resize: 'squash', ...(views ? { views } : {}) });
      const size = folder.manifest.output.embedding!.size;
      const spec = preprocessSpecOf(folder.manifest);
      const backbone = await createClassifier({ logger }, { folder, providers: ['cpu'], intraOpThreads: 1 });
      const cache = new EmbeddingCache(join(out, 'cache'), folder.manifest.sha256, size, spec);
      const embed = (list: typeof trainFiles) => embedFiles({ logger, preprocess: preprocessImage, backbone, cache }, list, { spec, size });
      const [train, val] = [await embed(trainFiles), await embed(valFiles)];
      await backbone.dispose();
      const accuracies: number[] = [];
      for (let d = 0; d < draws; d++) {
        const rng = createRng(1000 + d);
        const pick = LABELS.flatMap((_, c) => shuffleInPlace([...train.y.keys()].filter((i) => train.y[i] === c), rng).slice(0, PER_CLASS));
        accuracies.push(await headAccuracy(pickRows(train, pick, size), val, size, LABELS.length));
      }
      process.stdout.write(`${text} (input ${spec.size.join('x')}, model.onnx ${((await readFile(join(out, 'model.onnx'))).length / 1e6).toFixed(2)} MB): ${drawSummary(accuracies)}\n`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`[views-sweep] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
