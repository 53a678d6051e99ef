import * as tf from '@tensorflow/tfjs';
import { TrainingError } from './errors.js';

/**
 * The architectures `edgecam train` builds. Every layer used here must be one the tfjs→ONNX exporter
 * (src/onnx/tfjs-export.ts) converts: Conv2D, MaxPooling2D, BatchNormalization, Flatten, GlobalAveragePooling2D, Dense, Dropout.
 */

export interface CnnOptions {
  inputSize: number;
  /** Filters per conv block, e.g. [32, 64]: one block = Conv2D 3×3 (×convsPerBlock) → MaxPool 2×2. */
  filters: number[];
  convsPerBlock: number;
  /** Units of the hidden Dense layers before the classifier, e.g. [128]; empty for none. */
  dense: number[];
  dropout: number;
  batchNorm: boolean;
  /** End the conv blocks with global average pooling instead of Flatten: one value per filter, far fewer Dense weights. */
  globalPool?: boolean;
  nClasses: number;
  seed: number;
}

/** What the classifier layer emits: sigmoid (one unit) for two classes, softmax otherwise. */
export type OutputActivation = 'sigmoid' | 'softmax';

export function outputActivationFor(nClasses: number, preferSoftmax = false): OutputActivation {
  return nClasses === 2 && !preferSoftmax ? 'sigmoid' : 'softmax';
}

function classifierLayer(nClasses: number, activation: OutputActivation, seed: number): tf.layers.Layer {
  return tf.layers.dense({
    units: activation === 'sigmoid' ? 1 : nClasses,
    activation,
    name: 'scores',
    kernelInitializer: tf.initializers.glorotUniform({ seed }),
  });
}

/** The Keras-tutorial small CNN (Conv → MaxPool blocks → Flatten → Dense → Dropout → sigmoid/softmax). */
export function buildCnn(o: CnnOptions, activation: OutputActivation = outputActivationFor(o.nClasses)): tf.LayersModel {
  if (o.nClasses < 2) throw new TrainingError('TRAIN_ONE_CLASS', 'A classifier needs at least two classes (two class folders).');
  if (o.filters.length === 0) throw new TrainingError('TRAIN_BAD_ARCH', '--filters needs at least one conv block, e.g. --filters 32,64.');
  const minSize = 2 ** o.filters.length;
  if (o.inputSize < minSize) throw new TrainingError('TRAIN_BAD_ARCH', `--input-size ${o.inputSize} is too small for ${o.filters.length} pooling blocks (needs ≥ ${minSize}).`);
  const model = tf.sequential({ name: 'cnn' });
  let seed = o.seed;
  let first = true;
  for (const f of o.filters) {
    for (let k = 0; k < o.convsPerBlock; k++) {
      model.add(tf.layers.conv2d({
        ...(first ? { inputShape: [o.inputSize, o.inputSize, 3] } : {}),
        filters: f, kernelSize: 3, padding: 'same', useBias: !o.batchNorm,
        activation: o.batchNorm ? 'linear' : 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: seed++ }),
      }));
      first = false;
      if (o.batchNorm) {
        // Momentum 0.9 (PyTorch's 0.1), not Keras' 0.99: with a few dozen batches per epoch the 0.99 moving statistics
        // trailed the changing network by epochs, and inference-mode accuracy sat at chance while training reached 60 %.
        model.add(tf.layers.batchNormalization({ momentum: 0.9 }));
        model.add(tf.layers.activation({ activation: 'relu' }));
      }
    }
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }));
  }
  model.add(o.globalPool ? tf.layers.globalAveragePooling2d({}) : tf.layers.flatten());
  for (const units of o.dense) {
    if (o.dropout > 0) model.add(tf.layers.dropout({ rate: o.dropout, seed: seed++ }));
    model.add(tf.layers.dense({ units, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }));
  }
  if (o.dropout > 0) model.add(tf.layers.dropout({ rate: o.dropout, seed: seed++ }));
  model.add(classifierLayer(o.nClasses, activation, seed++));
  return model;
}

/**
 * The CNN plus a linear probe from its pooled features (the Flatten / GlobalAveragePooling output) to `width`
 * values, as a second output: what feature matching trains (FitOptions.featureProbe). The layers are the CNN's
 * own, so training this model trains `cnn`; the probe is not part of `cnn` and is never exported.
 */
export function withFeatureProbe(cnn: tf.LayersModel, width: number, seed: number): tf.LayersModel {
  const pooled = cnn.layers.find((l) => ['GlobalAveragePooling2D', 'Flatten'].includes(l.getClassName()));
  if (!pooled) throw new TrainingError('TRAIN_BAD_ARCH', `model "${cnn.name}" has no Flatten or GlobalAveragePooling2D layer to attach the feature probe to`);
  const probe = tf.layers.dense({ units: width, name: 'feature_probe', kernelInitializer: tf.initializers.glorotUniform({ seed }) })
    .apply(pooled.output as tf.SymbolicTensor) as tf.SymbolicTensor;
  return tf.model({ name: `${cnn.name}_with_probe`, inputs: cnn.inputs, outputs: [cnn.outputs[0]!, probe] });
}

export interface HeadOptions {
  embeddingSize: number;
  /** Optional hidden layer units (0 = linear classifier on the embedding). */
  hidden: number;
  dropout: number;
  nClasses: number;
  seed: number;
}

/**
 * The transfer-learning head (Teachable Machine style): [Dense(hidden, relu)] → Dropout → Dense softmax.
 * Always softmax, even for two classes, so it composes with the backbone as a plain Gemm + Softmax.
 */
export function buildHead(o: HeadOptions): tf.LayersModel {
  if (o.nClasses < 2) throw new TrainingError('TRAIN_ONE_CLASS', 'A classifier needs at least two classes (two class folders).');
  const model = tf.sequential({ name: 'head' });
  let seed = o.seed;
  if (o.hidden > 0) {
    model.add(tf.layers.dense({ inputShape: [o.embeddingSize], units: o.hidden, activation: 'relu', name: 'hidden', kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }));
    if (o.dropout > 0) model.add(tf.layers.dropout({ rate: o.dropout, seed: seed++ }));
  } else if (o.dropout > 0) {
    model.add(tf.layers.dropout({ inputShape: [o.embeddingSize], rate: o.dropout, seed: seed++ }));
  }
  model.add(tf.layers.dense({
    ...(model.layers.length === 0 ? { inputShape: [o.embeddingSize] } : {}),
    units: o.nClasses, activation: 'softmax', name: 'scores', kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }),
  }));
  return model;
}

/** Dense layers of a head as plain arrays, in order (what ONNX composition and head.json need). */
export interface DenseLayerWeights {
  /** Row-major [inDim, outDim] (tfjs Dense kernel layout). */
  weights: Float32Array;
  bias: Float32Array;
  inDim: number;
  outDim: number;
  activation: 'relu' | 'softmax' | 'sigmoid' | 'linear';
}

export function denseLayersOf(model: tf.LayersModel): DenseLayerWeights[] {
  return model.layers.filter((l) => l.getClassName() === 'Dense').map((l) => {
    const [kernel, bias] = l.getWeights();
    const [inDim, outDim] = kernel!.shape as [number, number];
    const activation = (l.getConfig().activation as string | undefined) ?? 'linear';
    return {
      weights: kernel!.dataSync() as Float32Array,
      bias: bias!.dataSync() as Float32Array,
      inDim, outDim,
      activation: activation as DenseLayerWeights['activation'],
    };
  });
}

/** Parses "32,64" style lists of positive integers from the CLI. */
export function parseIntList(value: string | number | undefined, name: string, allowEmpty = false): number[] {
  if (value === undefined || value === '') {
    if (allowEmpty) return [];
    throw new TrainingError('TRAIN_BAD_OPTION', `${name} needs a comma-separated list of positive integers, e.g. 32,64.`);
  }
  const parts = String(value).split(',').map((s) => s.trim()).filter(Boolean);
  const nums = parts.map(Number);
  if (nums.some((n) => !Number.isInteger(n) || n < 0) || (!allowEmpty && nums.length === 0)) {
    throw new TrainingError('TRAIN_BAD_OPTION', `${name} needs a comma-separated list of positive integers, got "${value}".`);
  }
  return nums.filter((n) => n > 0);
}
