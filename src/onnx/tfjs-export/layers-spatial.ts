import { applyActivation } from './activations.js';
import {
  attr, layerWeights, requireWeight, unsupported,
  type ExportContext, type Layer, type LayerConfig, type Value,
} from './context.js';
import type { AttributeProto } from '../tensor.js';

/**
 * Spatial layers: Conv2D, DepthwiseConv2D, SeparableConv2D, pooling, ZeroPadding2D, BatchNormalization.
 * All run channels-first in ONNX; kernels are re-laid out from tfjs' HWIO.
 */

export interface LayerCall {
  layer: Layer;
  config: LayerConfig;
  inputs: Value[];
  /** tfjs (NHWC) shapes of the inputs, batch included. */
  inputShapes: (number | null)[][];
}

function pair(v: unknown, fallback: number): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0] ?? fallback, a[1] ?? a[0] ?? fallback];
}

function checkChannelsLast(call: LayerCall): void {
  const df = call.config.dataFormat;
  if (df !== undefined && df !== null && df !== 'channelsLast') throw unsupported(call.layer, `uses dataFormat "${String(df)}" (only channelsLast is exported)`);
}

/**
 * TF 'same' padding: output = ceil(in / stride), the total padding split with the extra pixel at the
 * end. With stride 2 this is asymmetric, and symmetric pads silently give wrong results (FIELD-NOTES).
 */
export function samePads(inSize: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const outSize = Math.ceil(inSize / stride);
  const effectiveKernel = (kernel - 1) * dilation + 1;
  const total = Math.max((outSize - 1) * stride + effectiveKernel - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Padding attributes for Conv/Pool: explicit [top, left, bottom, right], or SAME_UPPER when the size is dynamic. */
function padAttrs(call: LayerCall, kernel: [number, number], strides: [number, number], dilations: [number, number]): AttributeProto[] {
  const padding = String(call.config.padding ?? 'valid');
  if (padding === 'valid') return [];
  if (padding !== 'same') throw unsupported(call.layer, `uses padding "${padding}" (valid and same are exported)`);
  const [h, w] = [call.inputShapes[0]![1], call.inputShapes[0]![2]];
  if (typeof h !== 'number' || typeof w !== 'number') return [attr.string('auto_pad', 'SAME_UPPER')];
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilations[1]);
  return [attr.ints('pads', [top, left, bottom, right])];
}

/** [KH, KW, I, O] → [O, I, KH, KW]. */
export function hwioToOihw(k: Float32Array, shape: readonly number[]): Float32Array {
  const [KH, KW, I, O] = shape as [number, number, number, number];
  const out = new Float32Array(k.length);
  for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) {
    out[((o * I + i) * KH + h) * KW + w] = k[((h * KW + w) * I + i) * O + o]!;
  }
  return out;
}

/** OIHW (ONNX Conv) → HWIO (tfjs Conv2D kernel): the inverse of hwioToOihw, for reading exported kernels back (learn/init-weights.ts). */
export function oihwToHwio(k: Float32Array, dims: readonly number[]): Float32Array {
  const [O, I, KH, KW] = dims as [number, number, number, number];
  const out = new Float32Array(k.length);
  for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) {
    out[((h * KW + w) * I + i) * O + o] = k[((o * I + i) * KH + h) * KW + w]!;
  }
  return out;
}

/** Depthwise [KH, KW, C, M] → [C·M, 1, KH, KW]; output channel c·M + m matches tfjs' order, used with group = C. */
export function depthwiseToOnnx(k: Float32Array, shape: readonly number[]): Float32Array {
  const [KH, KW, C, M] = shape as [number, number, number, number];
  const out = new Float32Array(k.length);
  for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) for (let c = 0; c < C; c++) for (let m = 0; m < M; m++) {
    out[((c * M + m) * KH + h) * KW + w] = k[((h * KW + w) * C + c) * M + m]!;
  }
  return out;
}

interface ConvSpec { weight: Float32Array; dims: number[]; bias?: Float32Array; group: number; attrs: AttributeProto[] }

function emitConv(ctx: ExportContext, layer: Layer, x: string, spec: ConvSpec, suffix: string): string {
  const w = ctx.b.ref({ data: spec.weight, dims: spec.dims }, `${layer.name}/${suffix}_W`);
  const inputs = [x, w];
  if (spec.bias) inputs.push(ctx.b.ref({ data: spec.bias, dims: [spec.bias.length] }, `${layer.name}/${suffix}_B`));
  return ctx.op('Conv', inputs, [attr.int('group', spec.group), ...spec.attrs], ctx.out(layer, suffix));
}

function convGeometry(call: LayerCall, kernelHW: [number, number]): { strides: [number, number]; dilations: [number, number]; attrs: AttributeProto[] } {
  const strides = pair(call.config.strides, 1);
  const dilations = pair(call.config.dilationRate, 1);
  if ((strides[0] > 1 || strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1)) throw unsupported(call.layer, 'combines strides and dilation');
  const attrs = [attr.ints('kernel_shape', kernelHW), attr.ints('strides', strides), attr.ints('dilations', dilations),
    ...padAttrs(call, kernelHW, strides, dilations)];
  return { strides, dilations, attrs };
}

export function conv2d(ctx: ExportContext, call: LayerCall): Value {
  checkChannelsLast(call);
  const { layer, config } = call;
  if (config.groups !== undefined && config.groups !== 1) throw unsupported(layer, `uses groups=${String(config.groups)}`);
  const weights = layerWeights(layer);
  const kernel = requireWeight(layer, weights, 'kernel');
  const [KH, KW, I, O] = kernel.shape as [number, number, number, number];
  const x = ctx.nchw(call.inputs[0]!, layer);
  const { attrs } = convGeometry(call, [KH, KW]);
  const bias = config.useBias === false ? undefined : weights.get('bias')?.data;
  const y = emitConv(ctx, layer, x.name, { weight: hwioToOihw(kernel.data, kernel.shape), dims: [O, I, KH, KW], bias, group: 1, attrs }, 'conv');
  return applyActivation(ctx, layer, { name: y, rank: 4, layout: 'NCHW' }, config.activation);
}

export function depthwiseConv2d(ctx: ExportContext, call: LayerCall): Value {
  checkChannelsLast(call);
  const { layer, config } = call;
  const weights = layerWeights(layer);
  const kernel = requireWeight(layer, weights, 'depthwise_kernel');
  const [KH, KW, C, M] = kernel.shape as [number, number, number, number];
  const x = ctx.nchw(call.inputs[0]!, layer);
  const { attrs } = convGeometry(call, [KH, KW]);
  const bias = config.useBias === false ? undefined : weights.get('bias')?.data;
  const y = emitConv(ctx, layer, x.name, { weight: depthwiseToOnnx(kernel.data, kernel.shape), dims: [C * M, 1, KH, KW], bias, group: C, attrs }, 'depthwise');
  return applyActivation(ctx, layer, { name: y, rank: 4, layout: 'NCHW' }, config.activation);
}

/** Depthwise (no bias) then a 1×1 pointwise conv with the bias, as tfjs computes it. */
export function separableConv2d(ctx: ExportContext, call: LayerCall): Value {
  checkChannelsLast(call);
  const { layer, config } = call;
  const weights = layerWeights(layer);
  const dw = requireWeight(layer, weights, 'depthwise_kernel');
  const pw = requireWeight(layer, weights, 'pointwise_kernel');
  const [KH, KW, C, M] = dw.shape as [number, number, number, number];
  const [, , PI, PO] = pw.shape as [number, number, number, number];
  const x = ctx.nchw(call.inputs[0]!, layer);
  const { attrs } = convGeometry(call, [KH, KW]);
  const mid = emitConv(ctx, layer, x.name, { weight: depthwiseToOnnx(dw.data, dw.shape), dims: [C * M, 1, KH, KW], group: C, attrs }, 'depthwise');
  const bias = config.useBias === false ? undefined : weights.get('bias')?.data;
  const pointAttrs = [attr.ints('kernel_shape', [1, 1])];
  const y = emitConv(ctx, layer, mid, { weight: hwioToOihw(pw.data, pw.shape), dims: [PO, PI, 1, 1], bias, group: 1, attrs: pointAttrs }, 'pointwise');
  return applyActivation(ctx, layer, { name: y, rank: 4, layout: 'NCHW' }, config.activation);
}

export function pooling2d(opType: 'MaxPool' | 'AveragePool'): (ctx: ExportContext, call: LayerCall) => Value {
  return (ctx, call) => {
    checkChannelsLast(call);
    const kernel = pair(call.config.poolSize, 2);
    const strides = call.config.strides === undefined || call.config.strides === null ? kernel : pair(call.config.strides, 1);
    const x = ctx.nchw(call.inputs[0]!, call.layer);
    const attrs = [attr.ints('kernel_shape', kernel), attr.ints('strides', strides), ...padAttrs(call, kernel, strides, [1, 1])];
    // TF's 'same' average ignores the padded zeros.
    if (opType === 'AveragePool') attrs.push(attr.int('count_include_pad', 0));
    return { name: ctx.op(opType, [x.name], attrs, ctx.out(call.layer)), rank: 4, layout: 'NCHW' };
  };
}

export function globalPooling2d(opType: 'GlobalAveragePool' | 'GlobalMaxPool'): (ctx: ExportContext, call: LayerCall) => Value {
  return (ctx, call) => {
    checkChannelsLast(call);
    if (call.config.keepDims === true) throw unsupported(call.layer, 'uses keepDims');
    const x = ctx.nchw(call.inputs[0]!, call.layer);
    const pooled = ctx.op(opType, [x.name], [], ctx.out(call.layer, 'pooled'));
    // [N, C, 1, 1] → [N, C]: the order is the same in both layouts.
    return { name: ctx.b.flatten(pooled, 1, ctx.out(call.layer)), rank: 2, layout: 'plain' };
  };
}

export function zeroPadding2d(ctx: ExportContext, call: LayerCall): Value {
  checkChannelsLast(call);
  const p = call.config.padding;
  const [[top, bottom], [left, right]] = Array.isArray(p) && Array.isArray(p[0])
    ? p as [[number, number], [number, number]]
    : (() => { const [a, b] = pair(p, 1); return [[a, a], [b, b]] as [[number, number], [number, number]]; })();
  const x = ctx.nchw(call.inputs[0]!, call.layer);
  const pads = ctx.int64s([0, 0, top, left, 0, 0, bottom, right], `${call.layer.name}/pads`);
  return { name: ctx.op('Pad', [x.name, pads], [attr.string('mode', 'constant')], ctx.out(call.layer)), rank: 4, layout: 'NCHW' };
}

/** Inference-form BatchNormalization over the channel (last tfjs) axis. */
export function batchNormalization(ctx: ExportContext, call: LayerCall): Value {
  const { layer, config } = call;
  const v0 = call.inputs[0]!;
  const axis = typeof config.axis === 'number' ? config.axis : Number.NaN;
  if (axis !== -1 && axis !== v0.rank - 1) throw unsupported(layer, `normalises axis ${JSON.stringify(config.axis)} (only the last, channel axis is exported)`);
  if (v0.rank !== 2 && v0.rank !== 4) throw unsupported(layer, `has a rank-${v0.rank} input (rank 2 and 4 are exported)`);
  const x = v0.rank === 4 ? ctx.nchw(v0, layer) : v0;
  const weights = layerWeights(layer);
  const mean = requireWeight(layer, weights, 'moving_mean');
  const variance = requireWeight(layer, weights, 'moving_variance');
  const n = mean.data.length;
  const gamma = config.scale === false ? new Float32Array(n).fill(1) : requireWeight(layer, weights, 'gamma').data;
  const beta = config.center === false ? new Float32Array(n) : requireWeight(layer, weights, 'beta').data;
  const ref = (data: Float32Array, s: string) => ctx.b.ref({ data, dims: [n] }, `${layer.name}/${s}`);
  const y = ctx.op('BatchNormalization', [x.name, ref(gamma, 'gamma'), ref(beta, 'beta'), ref(mean.data, 'mean'), ref(variance.data, 'variance')],
    [attr.float('epsilon', Number(config.epsilon ?? 1e-3))], ctx.out(layer));
  return { ...x, name: y };
}
