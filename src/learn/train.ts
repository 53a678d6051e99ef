import * as tf from '@tensorflow/tfjs';
import type { PreprocessSpec } from '../models/manifest.js';
import { type AugmentOptions, augmentBatch } from './augment.js';
import { TrainingError } from './errors.js';
import type { OutputActivation } from './models.js';
import { createAdam } from './optimizer.js';
import { createRng, shuffleInPlace } from './random.js';
import { createWeightAverage, type WeightAverage } from './weight-average.js';

/**
 * The training loop: mini-batch Adam with on-the-fly augmentation, class-weighted cross-entropy and
 * early stopping on validation loss that puts back the best epoch's weights. A hand-written loop (not
 * model.fit) because augmentation must run per batch and the weights snapshot must include BN statistics.
 */

export interface TrainData {
  /** N samples of prod(sampleDims) floats each (NHWC images or embedding vectors). */
  x: Float32Array;
  sampleDims: number[];
  y: Int32Array;
  /** Distillation: N × nClasses teacher probabilities per sample (learn/distill.ts); training only. */
  soft?: Float32Array;
  /** Feature matching: N × width targets for the feature probe (FitOptions.featureProbe); training only. */
  features?: Float32Array;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** 'cosine': the learning rate falls from `lr` to 0 along a half cosine over `epochs` (long runs settle); default constant. */
  lrSchedule?: LrSchedule;
  /** Epochs without a better validation loss before stopping; 0 disables early stopping. */
  patience: number;
  seed: number;
  nClasses: number;
  activation: OutputActivation;
  /** L2 penalty λ·Σw² on Dense/Conv kernels (not biases), added to the loss; 0/undefined = none. */
  weightDecay?: number;
  /** Per-class loss weights (balancedClassWeights); undefined = all 1. */
  classWeights?: number[];
  /** Augmentation for image batches (NHWC); `spec` relates values to pixels. */
  augment?: { options: AugmentOptions; spec: Pick<PreprocessSpec, 'scale' | 'mean' | 'std'> };
  /** With `soft` targets: loss = (1 − w)·CE(label) + w·CE(teacher); default 0.5. */
  distillWeight?: number;
  /**
   * Feature matching: `model` is the classifier plus a training-only linear probe (two outputs: probabilities,
   * features) sharing the classifier's layers; loss += weight × mean squared error to `TrainData.features`.
   */
  featureProbe?: { model: tf.LayersModel; weight: number };
  /**
   * Fresh training samples for each epoch after the first (`train` is epoch 1's): distillation draws new
   * teacher-labelled views every epoch, so the CNN never sees a view twice and cannot memorise them.
   */
  resample?: (epoch: number) => Promise<TrainData>;
  /**
   * Decay of an exponential moving average of the weights (learn/weight-average.ts), e.g. 0.998; 0/undefined = off.
   * With it, validation, the best-epoch choice and the weights the model ends with are the averaged ones.
   */
  ema?: number;
  /** Checked after each epoch: true ends training there (best weights restored, model still written). */
  shouldStop?: () => boolean;
}

export type LrSchedule = 'constant' | 'cosine';

/** The learning rate of 1-based `epoch` under the schedule (Keras CosineDecay per epoch, alpha 0). */
export function learningRateAt(o: Pick<FitOptions, 'lr' | 'lrSchedule' | 'epochs'>, epoch: number): number {
  if (o.lrSchedule !== 'cosine' || o.epochs <= 1) return o.lr;
  return (o.lr * (1 + Math.cos((Math.PI * (epoch - 1)) / o.epochs))) / 2;
}

export interface EpochLogs {
  epoch: number;
  /** Learning rate used in this epoch. */
  lr: number;
  loss: number;
  acc: number;
  valLoss: number | null;
  valAcc: number | null;
  seconds: number;
  imagesPerSecond: number;
}

export interface FitResult {
  history: EpochLogs[];
  /** 1-based epoch whose weights the model holds after fit (best validation loss). */
  bestEpoch: number;
  stoppedEarly: boolean;
}

/** Progress callbacks (the CLI draws cli-progress bars; tests pass nothing). */
export interface FitReporter {
  epochStart?(epoch: number, epochs: number, batches: number): void;
  batchEnd?(batch: number, running: { loss: number; acc: number }): void;
  epochEnd?(logs: EpochLogs, improved: boolean): void;
}

const EPSILON = 1e-7;

/** Per-sample cross-entropy of probabilities (the model ends in sigmoid/softmax), like Keras with from_logits=false. */
function perSampleLoss(probs: tf.Tensor, labels: tf.Tensor1D, nClasses: number, activation: OutputActivation): tf.Tensor1D {
  const p = probs.clipByValue(EPSILON, 1 - EPSILON);
  if (activation === 'sigmoid') {
    const y = labels.toFloat();
    const q = p.reshape([-1]);
    return y.mul(q.log()).add(tf.scalar(1).sub(y).mul(tf.scalar(1).sub(q).log())).neg() as tf.Tensor1D;
  }
  return tf.oneHot(labels, nClasses).toFloat().mul(p.log()).sum(1).neg() as tf.Tensor1D;
}

/** Cross-entropy against a distribution (the teacher's probabilities) instead of one label. */
function perSampleSoftLoss(probs: tf.Tensor, targets: tf.Tensor2D, activation: OutputActivation): tf.Tensor1D {
  const p = probs.clipByValue(EPSILON, 1 - EPSILON);
  if (activation === 'sigmoid') {
    const q = targets.slice([0, 1], [-1, 1]).reshape([-1]);
    const r = p.reshape([-1]);
    return q.mul(r.log()).add(tf.scalar(1).sub(q).mul(tf.scalar(1).sub(r).log())).neg() as tf.Tensor1D;
  }
  return targets.mul(p.log()).sum(1).neg() as tf.Tensor1D;
}

function predictedClass(probs: tf.Tensor, activation: OutputActivation): tf.Tensor1D {
  return activation === 'sigmoid' ? (probs.reshape([-1]).greater(0.5).toInt() as tf.Tensor1D) : (probs.argMax(1) as tf.Tensor1D);
}

function correctCount(probs: tf.Tensor, labels: tf.Tensor1D, activation: OutputActivation): tf.Scalar {
  return predictedClass(probs, activation).equal(labels).toFloat().sum();
}

/** Loss and accuracy over a whole set, in batches, inference mode (no dropout, BN moving statistics). */
export function evaluateSet(model: tf.LayersModel, data: TrainData, o: Pick<FitOptions, 'batchSize' | 'nClasses' | 'activation'>): { loss: number; acc: number } {
  const n = data.y.length;
  const size = data.sampleDims.reduce((a, b) => a * b, 1);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < n; start += o.batchSize) {
    const end = Math.min(n, start + o.batchSize);
    const [l, c] = tf.tidy(() => {
      const x = tf.tensor(data.x.subarray(start * size, end * size), [end - start, ...data.sampleDims]);
      const y = tf.tensor1d(data.y.subarray(start, end), 'int32');
      const probs = model.predict(x) as tf.Tensor;
      return [perSampleLoss(probs, y, o.nClasses, o.activation).sum().dataSync()[0]!, correctCount(probs, y, o.activation).dataSync()[0]!];
    });
    lossSum += l;
    correct += c;
  }
  return { loss: n ? lossSum / n : NaN, acc: n ? correct / n : NaN };
}

function l2Penalty(model: tf.LayersModel, lambda: number): tf.Scalar {
  const kernels = model.trainableWeights.filter((w) => /kernel/.test(w.originalName)).map((w) => w.read().square().sum());
  return (kernels.length ? tf.addN(kernels).mul(lambda) : tf.scalar(0)) as tf.Scalar;
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface SetTensors { n: number; x: tf.Tensor; y: tf.Tensor1D; w: tf.Tensor1D; soft?: tf.Tensor2D; features?: tf.Tensor2D }

function setTensors(data: TrainData, o: FitOptions): SetTensors {
  const n = data.y.length;
  if (n === 0) throw new TrainingError('TRAIN_NO_DATA', 'No training images left after loading; check the dataset folders.');
  return {
    n,
    x: tf.tensor(data.x, [n, ...data.sampleDims]),
    y: tf.tensor1d(data.y, 'int32'),
    w: tf.tensor1d(Array.from(data.y, (c) => o.classWeights?.[c] ?? 1), 'float32'),
    ...(data.soft ? { soft: tf.tensor2d(data.soft, [n, data.soft.length / n]) } : {}),
    ...(data.features ? { features: tf.tensor2d(data.features, [n, data.features.length / n]) } : {}),
  };
}

const disposeSet = (t: SetTensors | undefined): void => { if (t) tf.dispose([t.x, t.y, t.w, ...(t.soft ? [t.soft] : []), ...(t.features ? [t.features] : [])]); };

/** The classifier's probabilities for a training step, plus the probe's squared error when feature matching. */
function forwardForTraining(model: tf.LayersModel, x: tf.Tensor, o: FitOptions, targets: tf.Tensor | undefined): { probs: tf.Tensor; featureLoss?: tf.Scalar } {
  if (!o.featureProbe || !targets) return { probs: model.apply(x, { training: true }) as tf.Tensor };
  const [probs, probe] = o.featureProbe.model.apply(x, { training: true }) as tf.Tensor[];
  return { probs: probs!, featureLoss: probe!.sub(targets).square().mean() as tf.Scalar };
}

/** Trains `model` in place and leaves it holding the best epoch's weights. */
export async function fitModel(model: tf.LayersModel, train: TrainData, val: TrainData | undefined, o: FitOptions, reporter: FitReporter = {}): Promise<FitResult> {
  let samples: SetTensors | undefined = setTensors(train, o);
  const rng = createRng(o.seed);
  const optimizer = createAdam(o.lr);
  const distillWeight = o.distillWeight ?? 0.5;
  const hasVal = val !== undefined && val.y.length > 0;
  const history: EpochLogs[] = [];
  let best = { loss: Infinity, epoch: 0, weights: [] as tf.Tensor[] };
  let stoppedEarly = false;
  let average: WeightAverage | undefined;
  try {
    average = o.ema ? createWeightAverage(model, o.ema) : undefined;
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      if (o.resample && epoch > 1) {
        disposeSet(samples);
        samples = undefined;
        samples = setTensors(await o.resample(epoch), o);
      }
      const lr = learningRateAt(o, epoch);
      // Adam reads its learningRate field on every step, so a per-epoch schedule is one assignment.
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const { n, x: xAll, y: yAll, w: wAll, soft: softAll, features: featuresAll } = samples;
      const batches = Math.ceil(n / o.batchSize);
      reporter.epochStart?.(epoch, o.epochs, batches);
      const order = shuffleInPlace(Array.from({ length: n }, (_, i) => i), rng);
      const started = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        const idx = tf.tensor1d(order.slice(b * o.batchSize, (b + 1) * o.batchSize), 'int32');
        let batchCorrect: tf.Scalar | undefined;
        const lossT = tf.tidy(() => {
          const xRaw = tf.gather(xAll, idx);
          const x = o.augment ? augmentBatch(xRaw as tf.Tensor4D, o.augment.options, o.augment.spec, rng) : xRaw;
          const y = tf.gather(yAll, idx) as tf.Tensor1D;
          const w = tf.gather(wAll, idx);
          const featureTargets = featuresAll ? tf.gather(featuresAll, idx) : undefined;
          return optimizer.minimize(() => {
            const { probs, featureLoss } = forwardForTraining(model, x, o, featureTargets);
            batchCorrect = tf.keep(correctCount(probs, y, o.activation));
            let perSample = perSampleLoss(probs, y, o.nClasses, o.activation);
            if (softAll) {
              const soft = perSampleSoftLoss(probs, tf.gather(softAll, idx) as tf.Tensor2D, o.activation);
              perSample = perSample.mul(1 - distillWeight).add(soft.mul(distillWeight));
            }
            let loss = perSample.mul(w).mean() as tf.Scalar;
            if (featureLoss) loss = loss.add(featureLoss.mul(o.featureProbe!.weight)) as tf.Scalar;
            return o.weightDecay ? loss.add(l2Penalty(model, o.weightDecay)) as tf.Scalar : loss;
          }, true)!;
        });
        average?.update();
        const batchLoss = (await lossT.data())[0]!;
        const batchN = idx.shape[0];
        correct += (await batchCorrect!.data())[0]!;
        tf.dispose([lossT, batchCorrect!, idx]);
        if (!Number.isFinite(batchLoss)) {
          throw new TrainingError('TRAIN_DIVERGED', `Training loss became ${batchLoss} in epoch ${epoch}; lower --lr (now ${o.lr}) and try again.`);
        }
        lossSum += batchLoss * batchN;
        seen += batchN;
        reporter.batchEnd?.(b + 1, { loss: lossSum / seen, acc: correct / seen });
        await nextTick();
      }
      const seconds = (performance.now() - started) / 1000;
      const validate = () => evaluateSet(model, val!, o);
      const v = hasVal ? (average ? average.withAveraged(validate) : validate()) : undefined;
      const logs: EpochLogs = { epoch, lr, loss: lossSum / seen, acc: correct / seen, valLoss: v?.loss ?? null, valAcc: v?.acc ?? null, seconds, imagesPerSecond: seen / seconds };
      history.push(logs);
      const monitored = v?.loss ?? logs.loss;
      const improved = monitored < best.loss;
      if (improved) {
        tf.dispose(best.weights);
        best = { loss: monitored, epoch, weights: average ? average.snapshot() : model.getWeights().map((t) => t.clone()) };
      }
      reporter.epochEnd?.(logs, improved);
      if (o.shouldStop?.()) {
        stoppedEarly = epoch < o.epochs;
        break;
      }
      if (o.patience > 0 && epoch - best.epoch >= o.patience) {
        stoppedEarly = epoch < o.epochs;
        break;
      }
    }
    if (best.weights.length) model.setWeights(best.weights);
    return { history, bestEpoch: best.epoch, stoppedEarly };
  } finally {
    disposeSet(samples);
    tf.dispose(best.weights);
    average?.dispose();
    optimizer.dispose();
  }
}
