import * as tf from '@tensorflow/tfjs';
import { basename, resolve } from 'node:path';
import { writeModelFolder, type ModelFolder } from '../models/folder.js';
import type { PreprocessSpec } from '../models/manifest.js';
import { exportLayersModelToOnnx } from '../onnx/tfjs-export.js';
import { runArtifacts, manifestMetrics, type RunSummary } from './artifacts.js';
import { balancedClassWeights, classCounts, loadDatasetSplit, type DatasetSplit, type LabelledFile } from './dataset.js';
import { loadImages, type LoadedImages } from './dataset-load.js';
import { openViewTeacher, type ViewTeacher } from './distill.js';
import { classificationReport } from './metrics.js';
import { initFromModelFolder } from './init-weights.js';
import { buildCnn, outputActivationFor, withFeatureProbe, type OutputActivation } from './models.js';
import { versionFromDate, type TrainDeps, type TrainOptions } from './options.js';
import { evaluateSet, fitModel, type TrainData } from './train.js';

/**
 * `edgecam train --arch cnn`: folders → preprocessed tensors (the manifest's own preprocessing) →
 * small CNN trained with tfjs → ONNX (parity-checked) → model folder with metrics and charts.
 */

export interface TrainOutcome {
  folder: ModelFolder;
  summary: RunSummary;
}

export function cnnPreprocessSpec(o: TrainOptions['cnn']): PreprocessSpec {
  return { resize: o.resize, size: [o.inputSize, o.inputSize], scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0], layout: 'NHWC', colorOrder: 'RGB' };
}

export async function loadSplitImages(deps: TrainDeps, files: LabelledFile[], spec: PreprocessSpec, title: string): Promise<LoadedImages> {
  const bar = deps.progress.task(title, files.length);
  try {
    return await loadImages({ logger: deps.logger, preprocess: deps.preprocess, onProgress: (d) => bar.update(d) }, files, spec);
  } finally {
    bar.stop();
  }
}

export function toTrainData(images: LoadedImages): TrainData {
  return { x: images.data, sampleDims: images.sampleDims, y: images.labels };
}

/** Predicted class per sample from tfjs probabilities (for the validation report). */
export function predictClasses(model: tf.LayersModel, data: TrainData, activation: OutputActivation, batchSize = 64): { predicted: Int32Array; confidence: Float32Array } {
  const n = data.y.length;
  const size = data.sampleDims.reduce((a, b) => a * b, 1);
  const predicted = new Int32Array(n);
  const confidence = new Float32Array(n);
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const probs = tf.tidy(() => {
      const p = model.predict(tf.tensor(data.x.subarray(s * size, e * size), [e - s, ...data.sampleDims])) as tf.Tensor;
      return activation === 'sigmoid' ? tf.concat([tf.scalar(1).sub(p), p], 1) : p;
    });
    const values = probs.arraySync() as number[][];
    probs.dispose();
    values.forEach((row, i) => {
      const best = row.indexOf(Math.max(...row));
      predicted[s + i] = best;
      confidence[s + i] = row[best]!;
    });
  }
  return { predicted, confidence };
}

/** The teacher with the training photos loaded; views are drawn per epoch (see ViewTeacher). */
async function openTeacher(deps: TrainDeps, o: TrainOptions, files: LabelledFile[], labels: string[], spec: PreprocessSpec): Promise<ViewTeacher> {
  const bar = deps.progress.task('loading photos for the teacher', files.length);
  try {
    return await openViewTeacher({ logger: deps.logger, preprocess: deps.preprocess, classifierDeps: deps.classifierDeps, onProgress: (d) => bar.update(d) }, files, labels, spec, { ...o.cnn.distill!, augment: o.augment, seed: o.seed });
  } finally {
    bar.stop();
  }
}

export async function trainCnn(deps: TrainDeps, o: TrainOptions): Promise<TrainOutcome> {
  const started = performance.now();
  const split = await loadDatasetSplit(o.dataset, { valSplit: o.valSplit, seed: o.seed });
  const spec = cnnPreprocessSpec(o.cnn);
  // Built, and --init matched to it, before the teacher loads its photos: a wrong --init fails in seconds, not minutes.
  const model = buildCnn({ ...o.cnn, nClasses: split.labels.length, seed: o.seed }, outputActivationFor(split.labels.length));
  try {
    if (o.cnn.init) await initFromModelFolder(model, o.cnn.init, split.labels);
    const teacher = o.cnn.distill ? await openTeacher(deps, o, split.train, split.labels, spec) : undefined;
    try {
      return await trainCnnWith(deps, o, split, spec, model, teacher, started);
    } finally {
      await teacher?.close();
    }
  } finally {
    model.dispose();
  }
}

async function trainCnnWith(deps: TrainDeps, o: TrainOptions, split: DatasetSplit, spec: PreprocessSpec, model: tf.LayersModel, teacher: ViewTeacher | undefined, started: number): Promise<TrainOutcome> {
  const views = o.cnn.distill?.views ?? 1;
  const distilled = teacher ? await teacher.sample(views, true) : undefined;
  const train = distilled ? { labels: distilled.y, skipped: distilled.skipped } : await loadSplitImages(deps, split.train, spec, 'loading train images');
  const trainData: TrainData = distilled ?? toTrainData(train as LoadedImages);
  const val = await loadSplitImages(deps, split.val, spec, 'loading val images');
  const nClasses = split.labels.length;
  const activation = outputActivationFor(nClasses);
  deps.logger.info({ labels: split.labels, train: train.labels.length, val: val.labels.length, skipped: train.skipped.length + val.skipped.length, activation }, 'dataset loaded');

  const featureWeight = o.cnn.distill?.features ?? 0;
  const featureProbe = teacher && featureWeight > 0 ? { model: withFeatureProbe(model, teacher.featureSize, o.seed + 7919), weight: featureWeight } : undefined;
  try {
    const fitOptions = {
      epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, lrSchedule: o.lrSchedule, patience: o.patience, seed: o.seed, nClasses, weightDecay: o.weightDecay, ema: o.ema, shouldStop: deps.shouldStop, activation,
      classWeights: o.classWeights ? balancedClassWeights(train.labels, nClasses) : undefined,
      // Distilled views carry their augmentation already (the teacher labelled exactly those pixels).
      augment: o.augment && !distilled ? { options: o.augment, spec } : undefined,
      distillWeight: o.cnn.distill?.weight,
      ...(featureProbe ? { featureProbe } : {}),
      ...(teacher ? { resample: async () => teacher.sample(views, false) } : {}),
    };
    const fit = await fitModel(model, trainData, toTrainData(val), fitOptions, deps.progress.fit);
    const valData = toTrainData(val);
    const { predicted } = predictClasses(model, valData, activation);
    const report = val.labels.length ? classificationReport(val.labels, predicted, split.labels) : undefined;
    const valLoss = val.labels.length ? evaluateSet(model, valData, fitOptions).loss : undefined;

    const exported = await exportLayersModelToOnnx(model, { inputName: 'input', outputName: 'scores', layout: 'NHWC', twoClassFromSigmoid: true });
    deps.logger.info({ parityMaxAbsDiff: exported.parityMaxAbsDiff }, 'exported to ONNX (tfjs vs ONNX Runtime parity checked)');
    const summary: RunSummary = {
      arch: 'cnn', command: o.command, labels: split.labels,
      dataset: { path: resolve(o.dataset), split: split.source, train: classCounts(split.train, split.labels), val: classCounts(split.val, split.labels), skipped: [...train.skipped, ...val.skipped] },
      options: { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, lrSchedule: o.lrSchedule ?? 'constant', weightDecay: o.weightDecay, ema: o.ema ?? 0, patience: o.patience, seed: o.seed, valSplit: o.valSplit, classWeights: o.classWeights, augment: o.augment ?? null, ...o.cnn },
      ...(distilled ? { distillation: { teacher: distilled.teacher, views: distilled.y.length, teacherAgreement: distilled.teacherAgreement, weight: o.cnn.distill!.weight, features: featureWeight } } : {}),
      backend: deps.backend, fit, val: report, valLoss, exportParityMaxAbsDiff: exported.parityMaxAbsDiff,
      trainSeconds: (performance.now() - started) / 1000,
    };
    const now = deps.now?.() ?? new Date();
    const name = o.name ?? basename(resolve(o.out));
    const folder = await writeModelFolder(o.out, {
      modelBytes: exported.modelBytes,
      overwrite: o.force,
      manifest: {
        name, version: o.version ?? versionFromDate(now), created: now.toISOString(), labels: split.labels,
        input: { name: exported.inputName, shape: exported.inputShape, layout: 'NHWC', channels: 3, colorOrder: 'RGB' },
        preprocess: { resize: spec.resize, size: spec.size, scale: spec.scale, mean: spec.mean, std: spec.std, padColor: spec.padColor },
        output: { name: exported.outputName, kind: activation === 'sigmoid' ? 'probabilities' : 'softmax' },
        provenance: { dataset: resolve(o.dataset), source: 'edgecam train --arch cnn', ...(o.command ? { command: o.command } : {}), datasetSummary: classCounts([...split.train, ...split.val], split.labels) },
        metrics: manifestMetrics(summary),
      },
      extraFiles: await runArtifacts(summary, name),
    });
    return { folder, summary };
  } finally {
    featureProbe?.model.getLayer('feature_probe').dispose();
  }
}
