import * as tf from '@tensorflow/tfjs';
import { basename, resolve } from 'node:path';
import { createClassifier, type OrtClassifier } from '../inference/engine.js';
import { loadModelFolder, writeModelFolder, type ModelFolder } from '../models/folder.js';
import { preprocessSpecOf } from '../models/manifest.js';
import { runArtifacts, manifestMetrics, type RunSummary } from './artifacts.js';
import { balancedClassWeights, classCounts, loadDatasetSplit, type LabelledFile } from './dataset.js';
import { EmbeddingCache, embedFiles, type EmbeddedSet } from './embeddings.js';
import { TrainingError } from './errors.js';
import { composeTransferModel, HEAD_FILE, headFileFrom } from './head-file.js';
import { classificationReport } from './metrics.js';
import { buildHead, denseLayersOf } from './models.js';
import { versionFromDate, type TrainDeps, type TrainOptions } from './options.js';
import { evaluateSet, fitModel, type TrainData } from './train.js';
import { fitStandardizer, foldIntoFirstLayer, standardize } from './standardize.js';
import { predictClasses, type TrainOutcome } from './train-cnn.js';
import { tidyValues } from './tensor-values.js';

/**
 * `edgecam train --arch transfer` (Teachable Machine / Frigate style): embeddings from the frozen backbone
 * through ONNX Runtime (cached on disk), a small dense head trained with tfjs, then ONE ONNX = backbone
 * graph + head, checked against the tfjs head on the same embeddings before it is written.
 */

/** Largest |ONNX composed − tfjs head| accepted on the validation images. */
export const COMPOSE_TOLERANCE = 1e-4;

async function embedSplit(deps: TrainDeps, backbone: OrtClassifier, cache: EmbeddingCache, files: LabelledFile[], title: string, o: TrainOptions, copies: number): Promise<EmbeddedSet> {
  const bar = deps.progress.task(title, files.length);
  try {
    const size = backbone.manifest.output.embedding!.size;
    return await embedFiles({ logger: deps.logger, preprocess: deps.preprocess, backbone, cache, onProgress: (d) => bar.update(d) }, files,
      { spec: preprocessSpecOf(backbone.manifest), size, copies, augment: o.augment, seed: o.seed });
  } finally {
    bar.stop();
  }
}

/**
 * Runs the composed model on `count` validation images and compares its scores with the tfjs head on
 * those images' (standardized) embeddings: proves the exported graph, fold included, computes what was trained.
 */
async function composedParity(deps: TrainDeps, composed: ModelFolder, head: tf.LayersModel, files: string[], embeddings: Float32Array, size: number, count = 8): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const classifier = await createClassifier({ logger: deps.logger, ...deps.classifierDeps }, { folder: composed, providers: ['cpu'] });
  try {
    let worst = 0;
    for (let i = 0; i < Math.min(count, files.length); i++) {
      const got = await classifier.classify(await deps.preprocess(await readFile(files[i]!), preprocessSpecOf(composed.manifest)));
      const want = tidyValues(() => head.predict(tf.tensor2d(embeddings.subarray(i * size, (i + 1) * size), [1, size])) as tf.Tensor);
      got.scores.probabilities.forEach((p, k) => { worst = Math.max(worst, Math.abs(p - want[k]!)); });
    }
    return worst;
  } finally {
    await classifier.dispose();
  }
}

export async function trainTransfer(deps: TrainDeps, o: TrainOptions): Promise<TrainOutcome> {
  const started = performance.now();
  if (!o.transfer.backbone) throw new TrainingError('TRAIN_NO_BACKBONE', '--arch transfer needs --backbone <folder>; make one with `edgecam model pull` or `edgecam backbone prepare`.');
  const backboneFolder = await loadModelFolder(o.transfer.backbone);
  const emb = backboneFolder.manifest.output.embedding;
  if (!emb) throw new TrainingError('BACKBONE_NO_EMBEDDING', `${backboneFolder.dir} has no embedding output; prepare it with \`edgecam backbone prepare\` first.`);
  const split = await loadDatasetSplit(o.dataset, { valSplit: o.valSplit, seed: o.seed });
  const nClasses = split.labels.length;
  if (nClasses < 2) throw new TrainingError('TRAIN_ONE_CLASS', 'A classifier needs at least two classes (two class folders).');

  const backbone = await createClassifier({ logger: deps.logger, ...deps.classifierDeps }, { folder: backboneFolder, providers: o.transfer.providers });
  const cache = new EmbeddingCache(o.transfer.cacheDir, backboneFolder.manifest.sha256, emb.size, preprocessSpecOf(backboneFolder.manifest));
  let train: EmbeddedSet;
  let val: EmbeddedSet;
  try {
    train = await embedSplit(deps, backbone, cache, split.train, 'embedding train images', o, o.augment ? o.transfer.augmentCopies : 0);
    val = await embedSplit(deps, backbone, cache, split.val, 'embedding val images', o, 0);
  } finally {
    await backbone.dispose();
  }
  deps.logger.info({ train: train.y.length, val: val.y.length, cached: train.cached + val.cached, computed: train.computed + val.computed }, 'embeddings ready');

  const head = buildHead({ embeddingSize: emb.size, hidden: o.transfer.hidden, dropout: o.transfer.dropout, nClasses, seed: o.seed });
  try {
    const standardizer = fitStandardizer(train.x, emb.size);
    const trainData: TrainData = { x: standardize(train.x, standardizer), sampleDims: [emb.size], y: train.y };
    const valData: TrainData = { x: standardize(val.x, standardizer), sampleDims: [emb.size], y: val.y };
    const fitOptions = {
      epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, lrSchedule: o.lrSchedule, patience: o.patience, seed: o.seed, nClasses, weightDecay: o.weightDecay, ema: o.ema, shouldStop: deps.shouldStop, activation: 'softmax' as const,
      classWeights: o.classWeights ? balancedClassWeights(train.y, nClasses) : undefined,
    };
    const fit = await fitModel(head, trainData, valData, fitOptions, deps.progress.fit);
    const report = val.y.length ? classificationReport(val.y, predictClasses(head, valData, 'softmax').predicted, split.labels) : undefined;
    const valLoss = val.y.length ? evaluateSet(head, valData, fitOptions).loss : undefined;

    const now = deps.now?.() ?? new Date();
    const name = o.name ?? basename(resolve(o.out));
    const version = o.version ?? versionFromDate(now);
    const summary: RunSummary = {
      arch: 'transfer', command: o.command, labels: split.labels,
      dataset: { path: resolve(o.dataset), split: split.source, train: classCounts(split.train, split.labels), val: classCounts(split.val, split.labels), skipped: [...train.skipped, ...val.skipped] },
      options: { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, lrSchedule: o.lrSchedule ?? 'constant', weightDecay: o.weightDecay, ema: o.ema ?? 0, patience: o.patience, seed: o.seed, valSplit: o.valSplit, classWeights: o.classWeights, augment: o.augment ?? null,
        hidden: o.transfer.hidden, dropout: o.transfer.dropout, augmentCopies: o.transfer.augmentCopies, backbone: backboneFolder.dir, backboneSha256: backboneFolder.manifest.sha256 },
      backend: deps.backend, fit, val: report, valLoss, trainSeconds: 0,
      embeddings: { cached: train.cached + val.cached, computed: train.computed + val.computed },
    };
    const layers = foldIntoFirstLayer(denseLayersOf(head), standardizer);
    const provenance = { dataset: resolve(o.dataset), source: 'edgecam train --arch transfer', ...(o.command ? { command: o.command } : {}), datasetSummary: classCounts([...split.train, ...split.val], split.labels) };
    const composed = composeTransferModel(backboneFolder, layers, { labels: split.labels, name, version, created: now.toISOString(), provenance, metrics: manifestMetrics(summary) });
    // Written once to check it, then again with the parity figure and charts in place.
    const draft = await writeModelFolder(o.out, { modelBytes: composed.modelBytes, manifest: composed.manifest, overwrite: o.force });
    const parity = val.y.length ? await composedParity(deps, draft, head, val.files, valData.x, emb.size) : 0;
    if (!(parity <= COMPOSE_TOLERANCE)) {
      throw new TrainingError('TRANSFER_PARITY', `the composed ONNX model differs from the trained head by ${parity.toExponential(2)} (allowed ${COMPOSE_TOLERANCE}); this is a bug in head composition, please report it`);
    }
    summary.exportParityMaxAbsDiff = parity;
    summary.trainSeconds = (performance.now() - started) / 1000;
    const headFile = headFileFrom({ name, version, created: now.toISOString(), labels: split.labels, backbone: backboneFolder.manifest, layers, provenance, metrics: manifestMetrics(summary) });
    const folder = await writeModelFolder(o.out, {
      modelBytes: composed.modelBytes, manifest: composed.manifest, overwrite: true,
      extraFiles: { ...(await runArtifacts(summary, name)), [HEAD_FILE]: `${JSON.stringify(headFile)}\n` },
    });
    return { folder, summary };
  } finally {
    head.dispose();
  }
}
