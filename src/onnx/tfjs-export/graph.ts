import type * as tfTypes from '@tensorflow/tfjs';
import { ModelError } from '../../errors.js';
import { unsupported, type ExportContext, type Layer, type LayerConfig, type Value } from './context.js';
import {
  activationLayer, concatenate, dense, eluLayer, flatten, leakyReluLayer, merge, passThrough, reluLayer, rescaling, reshape,
  softmaxLayer, thresholdedReluLayer,
} from './layers-core.js';
import {
  batchNormalization, conv2d, depthwiseConv2d, globalPooling2d, pooling2d, separableConv2d, zeroPadding2d, type LayerCall,
} from './layers-spatial.js';

/**
 * Walks a tfjs layers model (Sequential or functional, nested to any depth) from its outputs back
 * to its inputs through the symbolic tensors, converting each layer call once. Nested models
 * (Teachable Machine's truncated MobileNet inside a Sequential) are converted in place.
 */

type Converter = (ctx: ExportContext, call: LayerCall) => Value;
type SymbolicTensor = tfTypes.SymbolicTensor;

const CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  MaxPooling2D: pooling2d('MaxPool'),
  AveragePooling2D: pooling2d('AveragePool'),
  GlobalAveragePooling2D: globalPooling2d('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling2d('GlobalMaxPool'),
  ZeroPadding2D: zeroPadding2d,
  BatchNormalization: batchNormalization,
  Dense: dense,
  Flatten: flatten,
  Reshape: reshape,
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyReluLayer,
  ELU: eluLayer,
  ThresholdedReLU: thresholdedReluLayer,
  Softmax: softmaxLayer,
  Rescaling: rescaling,
  Add: merge('Add'),
  Multiply: merge('Mul'),
  Average: merge('Mean'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
  // Training-only noise and dropout are the identity at inference.
  Dropout: passThrough,
  SpatialDropout1D: passThrough,
  GaussianNoise: passThrough,
  GaussianDropout: passThrough,
  AlphaDropout: passThrough,
};

export const SUPPORTED_LAYERS = ['InputLayer', 'Sequential', 'Model (functional, nested)', ...Object.keys(CONVERTERS)];

interface Container extends Layer {
  inputs: SymbolicTensor[];
  outputs: SymbolicTensor[];
  inputLayers: Layer[];
}

function isContainer(layer: Layer): layer is Container {
  const c = layer as Partial<Container>;
  return Array.isArray(c.inputLayers) && Array.isArray(c.inputs) && Array.isArray(c.outputs);
}

/** Convert a model (or nested model) whose inputs are already the given ONNX values. */
export function convertContainer(ctx: ExportContext, container: Container | tfTypes.LayersModel, inputs: Value[]): Value[] {
  const c = container as Container;
  if (c.inputs.length !== inputs.length) {
    throw new ModelError('EXPORT_GRAPH', `model "${c.name}" takes ${c.inputs.length} inputs but was called with ${inputs.length}`);
  }
  const values = new Map<number, Value>();
  c.inputs.forEach((t, i) => values.set(t.id, inputs[i]!));
  const resolve = (t: SymbolicTensor): Value => {
    const known = values.get(t.id);
    if (known) return known;
    const layer = t.sourceLayer as Layer;
    if (layer.getClassName() === 'InputLayer') {
      throw new ModelError('EXPORT_GRAPH', `input "${layer.name}" feeds model "${c.name}" but is not one of its inputs; the model graph is inconsistent`);
    }
    const node = layer.inboundNodes[t.nodeIndex];
    if (!node) throw new ModelError('EXPORT_GRAPH', `layer "${layer.name}" has no call #${t.nodeIndex}; the model graph is inconsistent`);
    const ins = node.inputTensors.map(resolve);
    const outs = convertLayer(ctx, layer, ins, node.inputTensors.map((s) => [...s.shape]));
    if (outs.length !== node.outputTensors.length) throw unsupported(layer, `produces ${node.outputTensors.length} outputs`);
    node.outputTensors.forEach((o, i) => values.set(o.id, outs[i]!));
    return values.get(t.id)!;
  };
  return c.outputs.map(resolve);
}

function convertLayer(ctx: ExportContext, layer: Layer, inputs: Value[], inputShapes: (number | null)[][]): Value[] {
  if (isContainer(layer)) return convertContainer(ctx, layer, inputs);
  const className = layer.getClassName();
  const converter = CONVERTERS[className];
  if (!converter) throw unsupported(layer, `is not a supported layer type (supported: ${SUPPORTED_LAYERS.join(', ')})`);
  const config = layer.getConfig() as LayerConfig;
  return [converter(ctx, { layer, config, inputs, inputShapes })];
}

/** The first real layer fed by the model's input (looking into nested models), or undefined. */
export function firstLayer(model: tfTypes.LayersModel): Layer | undefined {
  for (const layer of model.layers as Layer[]) {
    if (layer.getClassName() === 'InputLayer') continue;
    if (isContainer(layer)) return firstLayer(layer as unknown as tfTypes.LayersModel);
    return layer;
  }
  return undefined;
}

/**
 * The activation that produces the model's first output ('softmax', 'sigmoid', 'linear', …),
 * skipping pass-through layers such as Dropout and looking into nested models.
 */
export function finalActivation(model: tfTypes.LayersModel): string {
  let t = model.outputs[0]!;
  for (let guard = 0; guard < 1000; guard++) {
    const layer = t.sourceLayer as Layer;
    if (isContainer(layer)) { t = layer.outputs[0]!; continue; }
    const className = layer.getClassName();
    if (CONVERTERS[className] === passThrough) { t = layer.inboundNodes[t.nodeIndex]!.inputTensors[0]!; continue; }
    if (className === 'Softmax') return 'softmax';
    const activation = (layer.getConfig() as LayerConfig).activation;
    return typeof activation === 'string' ? activation : 'linear';
  }
  return 'linear';
}
