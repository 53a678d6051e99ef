import * as tf from '@tensorflow/tfjs';
import { loadModelFolder } from '../models/folder.js';
import { parseOnnx } from '../onnx/proto.js';
import { tensorDims, tensorValues } from '../onnx/tensor.js';
import { oihwToHwio } from '../onnx/tfjs-export/layers-spatial.js';
import { TrainingError } from './errors.js';

/**
 * `edgecam train --arch cnn --init <model-folder>`: start from the weights of a CNN that `edgecam train` made
 * before (the shipped pets CNN, or a run of your own) instead of random ones, the way a Keras user calls
 * `model.load_weights` before fitting on new photos. A model folder holds only ONNX, so the weights are read
 * back from the graph our exporter wrote (src/onnx/tfjs-export): per layer, in layer order, the initializers
 * of its Conv (kernel OIHW, bias), BatchNormalization (scale, bias, mean, variance) and Gemm (kernel, bias)
 * node — the same order and, but for the conv kernels' layout, the same shapes as the tfjs layer's weights.
 */

/**
 * Which inputs of an exported node are layer weights (the rest are activations), for the layers `train --arch cnn`
 * builds. Any other graph (a backbone, an ensemble, a quantized model) yields other tensors and is refused by shape.
 */
const WEIGHT_INPUTS: Record<string, number[]> = { Conv: [1, 2], BatchNormalization: [1, 2, 3, 4], Gemm: [1, 2] };

interface OnnxWeight { name: string; dims: number[]; values: Float32Array }

/** The graph's layer weights in node order (each initializer once, in case two nodes share one). */
export function exportedWeights(modelBytes: Uint8Array, source: string): OnnxWeight[] {
  const model = parseOnnx(modelBytes, source);
  const initializers = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const seen = new Set<string>();
  const out: OnnxWeight[] = [];
  for (const node of model.graph?.node ?? []) {
    for (const i of WEIGHT_INPUTS[node.opType ?? ''] ?? []) {
      const name = node.input?.[i];
      const t = name ? initializers.get(name) : undefined;
      if (!t || seen.has(name!)) continue;
      seen.add(name!);
      out.push({ name: name!, dims: tensorDims(t), values: Float32Array.from(tensorValues(t)) });
    }
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Copies the weights of the CNN in `dir` into `model` (built with the same architecture), after checking that
 * the folder's classes are `labels` in the same order. Throws TRAIN_INIT_* with what to change otherwise.
 */
export async function initFromModelFolder(model: tf.LayersModel, dir: string, labels: string[]): Promise<void> {
  const folder = await loadModelFolder(dir);
  const theirs = folder.manifest.labels;
  if (theirs.length !== labels.length || theirs.some((l, i) => l !== labels[i])) {
    throw new TrainingError('TRAIN_INIT_LABELS', `--init ${folder.dir} was trained on the classes ${theirs.join(', ')}, but this dataset has ${labels.join(', ')}; start from a model with the same class folders, or drop --init to train from scratch`);
  }
  const weights = exportedWeights(folder.modelBytes, `${folder.dir}/model.onnx`);
  const mismatch = (what: string): TrainingError => new TrainingError('TRAIN_INIT_ARCH', `--init ${folder.dir} does not have this run's architecture (${what}); pass the --input-size, --filters, --convs-per-block, --dense, --batch-norm and --global-pool it was trained with (its metrics.json lists them under "options"), or drop --init`);
  let next = 0;
  // Everything is matched before anything is assigned: a mismatch leaves the model as built.
  const plan = model.layers.map((layer) => ({
    layer,
    values: layer.weights.map((w) => {
      const onnx = weights[next++];
      if (!onnx) throw mismatch(`it has ${weights.length} weight tensors, this network more`);
      const isKernel4d = w.shape.length === 4;
      const dims = isKernel4d ? [onnx.dims[2]!, onnx.dims[3]!, onnx.dims[1]!, onnx.dims[0]!] : onnx.dims;
      if (!sameShape(dims, w.shape as number[])) throw mismatch(`layer ${layer.name}'s ${w.originalName} is [${w.shape.join(', ')}], the model's ${onnx.name} is [${dims.join(', ')}]`);
      return { data: isKernel4d ? oihwToHwio(onnx.values, onnx.dims) : onnx.values, shape: w.shape as number[] };
    }),
  }));
  if (next !== weights.length) throw mismatch(`it has ${weights.length} weight tensors, this network ${next}`);
  for (const { layer, values } of plan) {
    const tensors = values.map((v) => tf.tensor(v.data, v.shape));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}
