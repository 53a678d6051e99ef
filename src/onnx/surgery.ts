import { ModelError } from '../errors.js';
import {
  addGraphOutput, appendNodes, describeOnnx, encodeOnnx, opsetVersion, parseOnnx, producerOf, tensorExists,
} from './proto.js';
import { attr, makeTensor, tensorDims, type Dim, type ModelProto, type NodeProto } from './tensor.js';

/**
 * Graph surgery for transfer learning: find the pooled feature vector that feeds an ImageNet
 * classifier, expose it as a float `embedding` output (dequantizing int8 models), and attach a
 * small dense head so a trained transfer model ships as one ONNX file.
 */

/** Ops that only move or re-shape values, so the classifier's input is "the same tensor" behind them. */
const PASS_THROUGH = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity', 'Dropout']);
/** Ops that may sit between the classifier and the graph output (bias, activation, dequantize). */
const TAIL_OPS = new Set(['Softmax', 'Sigmoid', 'LogSoftmax', 'DequantizeLinear', 'Add', 'QLinearAdd', 'Identity', 'Flatten', 'Reshape', 'Squeeze', 'Cast']);
const CLASSIFIER_OPS = new Set(['Gemm', 'MatMul', 'QLinearMatMul', 'MatMulInteger']);
/** Where a QLinear* op keeps its output scale and zero point among its inputs. */
const QLINEAR_OUTPUT_PARAMS: Record<string, [number, number]> = {
  QuantizeLinear: [1, 2], QLinearConv: [6, 7], QLinearMatMul: [6, 7], QLinearAdd: [6, 7], QLinearMul: [6, 7],
  QLinearGlobalAveragePool: [3, 4], QLinearAveragePool: [3, 4], QLinearLeakyRelu: [3, 4], QLinearSigmoid: [3, 4], QLinearConcat: [0, 1],
};
const QUANT_PASS_THROUGH = new Set([...PASS_THROUGH, 'MaxPool', 'Transpose']);

export interface EmbeddingTensor {
  /** Name of the inner tensor (before any reshape into the classifier). */
  tensor: string;
  /** Present when the tensor is quantized (uint8/int8): the initializers that dequantize it. */
  quantization?: { scale: string; zeroPoint: string };
  /** Embedding width, when the classifier's weights tell it. */
  size?: number;
  /** Name (or op type) of the classifier node that reads it. */
  classifier?: string;
}

const isInitializer = (model: ModelProto, name: string) => (model.graph?.initializer ?? []).some((i) => i.name === name);
const dataInput = (model: ModelProto, n: NodeProto) => (n.input ?? []).find((i) => i && !isInitializer(model, i));

/** The tensor feeding the final classifier: walk back from the first graph output. */
export function findEmbeddingTensor(model: ModelProto): EmbeddingTensor {
  const output = model.graph?.output?.[0]?.name;
  if (!output) throw new ModelError('ONNX_NO_OUTPUT', 'the model has no graph output; is it a classifier?');
  let node = producerOf(model, output);
  const seen: string[] = [];
  while (node && !CLASSIFIER_OPS.has(node.opType ?? '') && TAIL_OPS.has(node.opType ?? '')) {
    seen.push(node.opType ?? '');
    const next = dataInput(model, node);
    node = next ? producerOf(model, next) : undefined;
  }
  if (!node || !CLASSIFIER_OPS.has(node.opType ?? '')) {
    throw new ModelError('ONNX_NO_CLASSIFIER', `could not find a Gemm/MatMul classifier before output "${output}" (walked back through ${seen.join(' ← ') || 'nothing'}${node ? `, stopped at ${node.opType}` : ''}); name the embedding tensor yourself with --embedding <tensor>`);
  }
  const classifier = node;
  let tensor = classifier.input![0]!;
  for (let p = producerOf(model, tensor); p && PASS_THROUGH.has(p.opType ?? ''); p = producerOf(model, tensor)) tensor = p.input![0]!;
  const inputs = classifier.input ?? [];
  const quantization = classifier.opType === 'QLinearMatMul' ? { scale: inputs[1]!, zeroPoint: inputs[2]! } : quantizationOf(model, tensor);
  return { tensor, ...(quantization ? { quantization } : {}), ...withSize(classifierWidth(model, classifier)), classifier: classifier.name || (classifier.opType ?? '') };
}

const withSize = (size: number | undefined) => (size ? { size } : {});

/** Input width of the classifier, from its weight initializer's dims. */
function classifierWidth(model: ModelProto, n: NodeProto): number | undefined {
  const weightIndex = n.opType === 'QLinearMatMul' ? 3 : 1;
  const w = (model.graph?.initializer ?? []).find((i) => i.name === n.input?.[weightIndex]);
  if (!w) return undefined;
  const dims = tensorDims(w);
  if (dims.length !== 2) return undefined;
  const transB = n.opType === 'Gemm' && (n.attribute ?? []).some((a) => a.name === 'transB' && Number(a.i) === 1);
  return transB ? dims[1] : dims[0];
}

/** Quantization parameters of a tensor produced by QuantizeLinear or a QLinear* op (through reshapes/pools). */
export function quantizationOf(model: ModelProto, tensor: string): { scale: string; zeroPoint: string } | undefined {
  for (let p = producerOf(model, tensor); p; p = producerOf(model, p.input![0]!)) {
    const at = QLINEAR_OUTPUT_PARAMS[p.opType ?? ''];
    if (at) return { scale: p.input![at[0]]!, zeroPoint: p.input![at[1]]! };
    if (!QUANT_PASS_THROUGH.has(p.opType ?? '')) return undefined;
  }
  return undefined;
}

/**
 * Add graph output `outputName` (float32 [N, D]): the embedding tensor, dequantized when quantized,
 * flattened. Mutates `model`; returns what was exposed. Works across opsets ≥ 10.
 */
export function exposeEmbedding(model: ModelProto, tensor?: string, outputName = 'embedding'): EmbeddingTensor & { output: string } {
  const found: EmbeddingTensor = tensor === undefined ? findEmbeddingTensor(model) : { tensor, ...quantOrEmpty(model, tensor) };
  if (!tensorExists(model, found.tensor)) {
    throw new ModelError('ONNX_TENSOR_NOT_FOUND', `no tensor named "${found.tensor}" in the graph; pick one listed by \`edgecam model inspect <file.onnx> --json\` (tensors)`);
  }
  if (tensorExists(model, outputName)) {
    throw new ModelError('ONNX_OUTPUT_EXISTS', `the graph already has a tensor named "${outputName}"; the model already exposes an embedding or needs another output name`);
  }
  if ((opsetVersion(model) ?? 0) < 10) {
    throw new ModelError('ONNX_OPSET_TOO_OLD', `the model uses ai.onnx opset ${opsetVersion(model)}; exposing an embedding needs opset ≥ 10 (re-export the model with a newer opset)`);
  }
  let x = found.tensor;
  const nodes: NodeProto[] = [];
  if (found.quantization) {
    nodes.push({ opType: 'DequantizeLinear', name: `${outputName}_dequantize`, input: [x, found.quantization.scale, found.quantization.zeroPoint], output: [`${outputName}_dequantized`] });
    x = `${outputName}_dequantized`;
  }
  nodes.push({ opType: 'Flatten', name: `${outputName}_flatten`, input: [x], output: [outputName], attribute: [attr.int('axis', 1)] });
  appendNodes(model, nodes);
  addGraphOutput(model, outputName, 'float32', [batchDim(model), found.size ?? `${outputName}_size`]);
  return { ...found, output: outputName };
}

function quantOrEmpty(model: ModelProto, tensor: string) {
  const q = quantizationOf(model, tensor);
  return q ? { quantization: q } : {};
}

/** The first graph input's batch dimension (a symbol like 'batch_size', or a number). */
function batchDim(model: ModelProto): Dim {
  return describeOnnx(model).inputs[0]?.shape[0] ?? 'N';
}

export interface DenseLayer {
  /** Row-major [inDim, outDim] (the tfjs / Keras Dense kernel layout). */
  weights: Float32Array;
  inDim: number;
  outDim: number;
  /** [outDim]; zeros when absent. */
  bias?: Float32Array;
  activation: 'relu' | 'softmax' | 'sigmoid' | 'linear';
}

export interface AttachHeadOptions {
  /** The float [N, D] graph output the head reads (from exposeEmbedding). */
  embeddingOutput: string;
  layers: DenseLayer[];
  /** Name of the head's output (the model's new class-score output). */
  outputName: string;
  /** Keep the backbone's other outputs (e.g. ImageNet logits). Default false: they and their nodes are pruned. */
  keepBackboneOutputs?: boolean;
}

/** One model = backbone + dense head. Returns a new model; `backbone` is not modified. */
export function attachDenseHead(backbone: ModelProto, o: AttachHeadOptions): ModelProto {
  const model = parseOnnx(encodeOnnx(backbone), 'backbone');
  const g = model.graph!;
  const emb = (g.output ?? []).find((x) => x.name === o.embeddingOutput);
  if (!emb) throw new ModelError('ONNX_TENSOR_NOT_FOUND', `the backbone has no graph output "${o.embeddingOutput}"; run exposeEmbedding (\`edgecam backbone prepare\`) first`);
  if (o.layers.length === 0) throw new ModelError('HEAD_EMPTY', 'a dense head needs at least one layer');
  if (tensorExists(model, o.outputName)) throw new ModelError('ONNX_OUTPUT_EXISTS', `the backbone already has a tensor named "${o.outputName}"; choose another head output name`);
  let x = o.embeddingOutput;
  const nodes: NodeProto[] = [];
  o.layers.forEach((l, i) => {
    if (l.weights.length !== l.inDim * l.outDim) throw new ModelError('HEAD_SHAPE', `head layer ${i}: ${l.weights.length} weights, expected inDim×outDim = ${l.inDim * l.outDim}`);
    if (i > 0 && o.layers[i - 1]!.outDim !== l.inDim) throw new ModelError('HEAD_SHAPE', `head layer ${i} takes ${l.inDim} inputs but layer ${i - 1} gives ${o.layers[i - 1]!.outDim}`);
    const p = uniquePrefix(model, `head_dense${i}`);
    g.initializer!.push(makeTensor(`${p}_W`, l.weights, [l.inDim, l.outDim]), makeTensor(`${p}_B`, l.bias ?? new Float32Array(l.outDim), [l.outDim]));
    const last = i === o.layers.length - 1;
    const act = l.activation === 'linear' ? undefined : l.activation;
    const gemmOut = last && !act ? o.outputName : `${p}_out`;
    nodes.push({ opType: 'Gemm', name: `${p}_gemm`, input: [x, `${p}_W`, `${p}_B`], output: [gemmOut], attribute: [attr.float('alpha', 1), attr.float('beta', 1), attr.int('transA', 0), attr.int('transB', 0)] });
    x = gemmOut;
    if (act) {
      const actOut = last ? o.outputName : `${p}_${act}`;
      const opType = act === 'relu' ? 'Relu' : act === 'softmax' ? 'Softmax' : 'Sigmoid';
      nodes.push({ opType, name: `${p}_${act}`, input: [x], output: [actOut], attribute: act === 'softmax' ? [attr.int('axis', 1)] : [] });
      x = actOut;
    }
  });
  appendNodes(model, nodes);
  addGraphOutput(model, o.outputName, 'float32', [batchDim(model), o.layers[o.layers.length - 1]!.outDim]);
  if (!o.keepBackboneOutputs) {
    g.output = [...(g.output ?? [])].filter((v) => v.name === o.outputName || v.name === o.embeddingOutput);
    // Head output first: serving reads manifest.output.name, but tools that take "the first output" get the scores.
    g.output.sort((a) => (a.name === o.outputName ? -1 : 1));
    pruneToOutputs(model);
  }
  return model;
}

function uniquePrefix(model: ModelProto, base: string): string {
  let p = base;
  for (let i = 1; tensorExists(model, `${p}_W`) || tensorExists(model, `${p}_out`); i++) p = `${base}_${i}`;
  return p;
}

/** Drop nodes and initializers that no graph output depends on. */
export function pruneToOutputs(model: ModelProto): void {
  const g = model.graph!;
  const needed = new Set((g.output ?? []).map((o) => o.name ?? ''));
  const keep = new Set<NodeProto>();
  for (const n of [...(g.node ?? [])].reverse()) {
    if ((n.output ?? []).some((t) => needed.has(t))) {
      keep.add(n);
      for (const t of n.input ?? []) if (t) needed.add(t);
    }
  }
  g.node = (g.node ?? []).filter((n) => keep.has(n));
  const initNames = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  g.initializer = (g.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  // IR < 4 also lists initializers as graph inputs; drop the ones just removed.
  g.input = (g.input ?? []).filter((i) => !initNames.has(i.name ?? '') || needed.has(i.name ?? ''));
  g.valueInfo = (g.valueInfo ?? []).filter((v) => needed.has(v.name ?? ''));
}
