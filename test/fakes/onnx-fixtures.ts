import { GraphBuilder } from '../../src/onnx/builder.js';
import { writeModelFolder, type ModelFolder } from '../../src/models/folder.js';
import type { ManifestInput } from '../../src/models/manifest.js';
import { mulberry32 } from '../../src/random.js';

/**
 * Small deterministic ONNX models built in code, so no test needs a downloaded file.
 * Weights come from a seeded PRNG: the same options give byte-identical models.
 */

/** mulberry32: tiny seeded PRNG, values in [0, 1). */
export const seededRandom = mulberry32;

export function randomFloats(rand: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

export interface TinyClassifierOptions {
  /** Square input side in pixels (default 32). */
  inputSize?: number;
  layout?: 'NCHW' | 'NHWC';
  /** Number of classes (default 3). */
  labels?: number;
  seed?: number;
}

/**
 * input 'input' float32 [N,3,S,S] (NCHW) or [N,S,S,3] (NHWC) → Conv 3→4 k3 s2 p1 → Relu → GlobalAveragePool
 * → Flatten → Gemm → Softmax → output 'probs' [N, labels].
 */
export function tinyClassifierOnnx(opts: TinyClassifierOptions = {}): Uint8Array {
  const size = opts.inputSize ?? 32;
  const classes = opts.labels ?? 3;
  const rand = seededRandom(opts.seed ?? 1);
  const b = new GraphBuilder({ name: 'tiny-classifier' });
  let x = b.input('input', opts.layout === 'NHWC' ? ['N', size, size, 3] : ['N', 3, size, size]);
  if (opts.layout === 'NHWC') x = b.transpose(x, [0, 3, 1, 2]);
  x = b.conv(x, { weight: { data: randomFloats(rand, 4 * 3 * 9, 0.5), dims: [4, 3, 3, 3] }, bias: { data: randomFloats(rand, 4, 0.1), dims: [4] }, pads: [1, 1, 1, 1], strides: [2, 2] });
  x = b.relu(x);
  x = b.flatten(b.globalAveragePool(x));
  x = b.gemm(x, { data: randomFloats(rand, classes * 4, 2), dims: [classes, 4] }, { data: randomFloats(rand, classes, 0.1), dims: [classes] }, { transB: true });
  b.output(b.softmax(x, 1, 'probs'), ['N', classes]);
  return b.toBytes();
}

export interface TinyImagenetLikeOptions {
  inputSize?: number;
  classes?: number;
  /** Width of the pooled feature vector (the embedding). */
  embeddingSize?: number;
  /** QOperator-style tail like the int8 MobileNetV2: QuantizeLinear → Reshape → QLinearMatMul → DequantizeLinear → Add. */
  quantized?: boolean;
  seed?: number;
}

export interface TinyImagenetLike {
  bytes: Uint8Array;
  /** The tensor feeding the classifier (what backbone prepare should find). */
  embeddingTensor: string;
  embeddingSize: number;
  classes: number;
  inputSize: number;
}

/**
 * An ImageNet-classifier look-alike: input 'input' [N,3,S,S] → Conv → Relu → GlobalAveragePool ('pooled')
 * → Flatten → Gemm "classifier" → output 'logits' [N, classes]. The quantized variant quantizes the pooled
 * features to uint8 ('pooled_quantized'), reshapes and multiplies them with QLinearMatMul, then dequantizes.
 */
export function tinyImagenetLikeOnnx(opts: TinyImagenetLikeOptions = {}): TinyImagenetLike {
  const size = opts.inputSize ?? 16;
  const classes = opts.classes ?? 10;
  const dim = opts.embeddingSize ?? 8;
  const rand = seededRandom(opts.seed ?? 7);
  const b = new GraphBuilder({ name: opts.quantized ? 'tiny-imagenet-like-int8' : 'tiny-imagenet-like' });
  let x = b.input('input', ['batch_size', 3, size, size]);
  x = b.conv(x, { weight: { data: randomFloats(rand, dim * 27, 0.5), dims: [dim, 3, 3, 3] }, bias: { data: randomFloats(rand, dim, 0.1), dims: [dim] }, pads: [1, 1, 1, 1] });
  x = b.relu(x);
  const pooled = b.globalAveragePool(x, 'pooled');
  const weights = randomFloats(rand, classes * dim, 1);
  const bias = randomFloats(rand, classes, 0.1);
  if (!opts.quantized) {
    const flat = b.flatten(pooled, 1);
    b.output(b.gemm(flat, { data: weights, dims: [classes, dim] }, { data: bias, dims: [classes] }, { transB: true, out: 'logits' }), ['batch_size', classes]);
    return { bytes: b.toBytes(), embeddingTensor: 'pooled', embeddingSize: dim, classes, inputSize: size };
  }
  const scale = b.initializer('pooled_scale', new Float32Array([0.01]), []);
  const zero = b.initializer('pooled_zero_point', new Uint8Array([0]), []);
  const q = b.quantizeLinear(pooled, scale, zero, 'pooled_quantized');
  const flatQ = b.reshape(q, [-1, dim]);
  // Weights [dim, classes] as int8 with a per-tensor scale, like QOperator exporters write them.
  const wScale = 1 / 127;
  const wT = Int8Array.from({ length: dim * classes }, (_, i) => Math.round(weights[(i % classes) * dim + Math.floor(i / classes)]! / wScale));
  const mm = b.node('QLinearMatMul', [flatQ, scale, zero,
    b.initializer('classifier_weight_quantized', wT, [dim, classes]), b.initializer('classifier_weight_scale', new Float32Array([wScale]), []), b.initializer('classifier_weight_zero_point', new Int8Array([0]), []),
    b.initializer('mm_scale', new Float32Array([0.02]), []), b.initializer('mm_zero_point', new Uint8Array([128]), [])], [], { out: ['mm_quantized'] })[0]!;
  const deq = b.dequantizeLinear(mm, 'mm_scale', 'mm_zero_point');
  b.output(b.add(deq, { data: bias, dims: [classes] }, 'logits'), ['batch_size', classes]);
  return { bytes: b.toBytes(), embeddingTensor: 'pooled_quantized', embeddingSize: dim, classes, inputSize: size };
}

export interface TinyModelFolderOptions extends TinyClassifierOptions {
  /** Class names; default 'class0'… with `labels` (a count, default 3) entries. */
  labelNames?: string[];
  name?: string;
  version?: string;
  /** Manifest fields to override (e.g. preprocess). */
  manifest?: Partial<ManifestInput>;
  overwrite?: boolean;
}

/** The manifest that goes with tinyClassifierOnnx(opts) (sha256 is filled in by writeModelFolder). */
export function tinyManifest(opts: TinyModelFolderOptions = {}): Omit<ManifestInput, 'sha256'> {
  const size = opts.inputSize ?? 32;
  const labels = opts.labelNames ?? Array.from({ length: opts.labels ?? 3 }, (_, i) => `class${i}`);
  const nhwc = opts.layout === 'NHWC';
  return {
    name: opts.name ?? 'tiny',
    version: opts.version ?? '1',
    created: '2024-01-01T00:00:00.000Z',
    labels,
    input: { name: 'input', shape: nhwc ? [-1, size, size, 3] : [-1, 3, size, size], layout: nhwc ? 'NHWC' : 'NCHW', channels: 3, colorOrder: 'RGB' },
    preprocess: { resize: 'squash', size: [size, size], scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
    output: { name: 'probs', kind: 'softmax' },
    ...opts.manifest,
  };
}

/** Write model.onnx (tinyClassifierOnnx) + a valid manifest.json + labels.txt into `dir`. */
export async function writeTinyModelFolder(dir: string, opts: TinyModelFolderOptions = {}): Promise<ModelFolder> {
  const labelCount = opts.labelNames?.length ?? opts.labels ?? 3;
  const modelBytes = tinyClassifierOnnx({ ...opts, labels: labelCount });
  return writeModelFolder(dir, { modelBytes, manifest: tinyManifest({ ...opts, labels: labelCount }), overwrite: opts.overwrite ?? true });
}
