import { applyActivation } from './activations.js';
import { attr, heldAxis, layerWeights, requireWeight, unsupported, type ExportContext, type Value } from './context.js';
import type { LayerCall } from './layers-spatial.js';

/** Dense, Flatten, Reshape, activation layers, Dropout-likes, Rescaling and the merge layers. */

export function dense(ctx: ExportContext, call: LayerCall): Value {
  const { layer, config } = call;
  const weights = layerWeights(layer);
  const kernel = requireWeight(layer, weights, 'kernel');
  const bias = config.useBias === false ? undefined : weights.get('bias');
  // tfjs Dense works on the last axis of its tfjs-ordered input.
  const x = ctx.plain(call.inputs[0]!);
  const W = ctx.b.ref({ data: kernel.data, dims: kernel.shape }, `${layer.name}/kernel`);
  const B = bias ? ctx.b.ref({ data: bias.data, dims: bias.shape }, `${layer.name}/bias`) : undefined;
  let y: string;
  if (x.rank === 2) {
    y = ctx.op('Gemm', B ? [x.name, W, B] : [x.name, W], [attr.float('alpha', 1), attr.float('beta', 1)], ctx.out(layer, 'gemm'));
  } else {
    y = ctx.op('MatMul', [x.name, W], [], ctx.out(layer, 'matmul'));
    if (B) y = ctx.op('Add', [y, B], [], ctx.out(layer, 'bias'));
  }
  return applyActivation(ctx, layer, { name: y, rank: x.rank, layout: 'plain' }, config.activation);
}

/**
 * tfjs flattens in NHWC order; flattening the NCHW-held tensor would permute the features and
 * silently change every Dense result after it (FIELD-NOTES), so go back to tfjs order first.
 */
export function flatten(ctx: ExportContext, call: LayerCall): Value {
  const x = ctx.plain(call.inputs[0]!);
  return { name: ctx.b.flatten(x.name, 1, ctx.out(call.layer)), rank: 2, layout: 'plain' };
}

export function reshape(ctx: ExportContext, call: LayerCall): Value {
  const target = call.config.targetShape as (number | null)[] | undefined;
  if (!Array.isArray(target)) throw unsupported(call.layer, 'has no targetShape');
  const x = ctx.plain(call.inputs[0]!);
  // 0 copies the batch dimension; tfjs' -1 (one unknown dimension) means the same in ONNX.
  const shape = ctx.int64s([0, ...target.map((d) => (d === null ? -1 : d))], `${call.layer.name}/shape`);
  return { name: ctx.op('Reshape', [x.name, shape], [], ctx.out(call.layer)), rank: target.length + 1, layout: 'plain' };
}

export function passThrough(_ctx: ExportContext, call: LayerCall): Value {
  return call.inputs[0]!;
}

export function activationLayer(ctx: ExportContext, call: LayerCall): Value {
  return applyActivation(ctx, call.layer, call.inputs[0]!, call.config.activation);
}

export function reluLayer(ctx: ExportContext, call: LayerCall): Value {
  const v = call.inputs[0]!;
  const max = call.config.maxValue;
  if (max === undefined || max === null) return { ...v, name: ctx.op('Relu', [v.name], [], ctx.out(call.layer)) };
  return { ...v, name: ctx.b.clip(v.name, 0, Number(max), ctx.out(call.layer)) };
}

export function leakyReluLayer(ctx: ExportContext, call: LayerCall): Value {
  const v = call.inputs[0]!;
  return { ...v, name: ctx.op('LeakyRelu', [v.name], [attr.float('alpha', Number(call.config.alpha ?? 0.3))], ctx.out(call.layer)) };
}

export function eluLayer(ctx: ExportContext, call: LayerCall): Value {
  const v = call.inputs[0]!;
  return { ...v, name: ctx.op('Elu', [v.name], [attr.float('alpha', Number(call.config.alpha ?? 1))], ctx.out(call.layer)) };
}

export function thresholdedReluLayer(ctx: ExportContext, call: LayerCall): Value {
  const v = call.inputs[0]!;
  return { ...v, name: ctx.op('ThresholdedRelu', [v.name], [attr.float('alpha', Number(call.config.theta ?? 1))], ctx.out(call.layer)) };
}

export function softmaxLayer(ctx: ExportContext, call: LayerCall): Value {
  const axis = call.config.axis;
  if (Array.isArray(axis) && axis.length !== 1) throw unsupported(call.layer, 'normalises over several axes');
  const a = Array.isArray(axis) ? Number(axis[0]) : Number(axis ?? -1);
  return applyActivation(ctx, call.layer, call.inputs[0]!, 'softmax', a);
}

/** y = x · scale + offset. */
export function rescaling(ctx: ExportContext, call: LayerCall): Value {
  const v = call.inputs[0]!;
  const scale = Number(call.config.scale ?? 1);
  const offset = Number(call.config.offset ?? 0);
  let y = ctx.op('Mul', [v.name, ctx.scalar(scale, `${call.layer.name}/scale`)], [], ctx.out(call.layer, 'scaled'));
  if (offset !== 0) y = ctx.op('Add', [y, ctx.scalar(offset, `${call.layer.name}/offset`)], [], ctx.out(call.layer));
  return { ...v, name: y };
}

/** Merge inputs must share a layout; rank-4 ones meet channels-first. */
function alignInputs(ctx: ExportContext, call: LayerCall): Value[] {
  const rank = call.inputs[0]!.rank;
  if (call.inputs.some((v) => v.rank !== rank)) throw unsupported(call.layer, 'merges tensors of different ranks');
  return call.inputs.map((v) => (rank === 4 ? ctx.nchw(v, call.layer) : ctx.plain(v)));
}

/** Add/Multiply chain binary ops; Average/Maximum/Minimum map to ONNX's variadic Mean/Max/Min. */
export function merge(opType: 'Add' | 'Mul' | 'Mean' | 'Max' | 'Min'): (ctx: ExportContext, call: LayerCall) => Value {
  return (ctx, call) => {
    const xs = alignInputs(ctx, call);
    let y: string;
    if (opType === 'Add' || opType === 'Mul') {
      y = xs[0]!.name;
      for (let i = 1; i < xs.length; i++) y = ctx.op(opType, [y, xs[i]!.name], [], ctx.out(call.layer, i === xs.length - 1 ? 'out' : `part${i}`));
    } else {
      y = ctx.op(opType, xs.map((x) => x.name), [], ctx.out(call.layer));
    }
    return { ...xs[0]!, name: y };
  };
}

export function concatenate(ctx: ExportContext, call: LayerCall): Value {
  const xs = alignInputs(ctx, call);
  const axis = heldAxis(xs[0]!, Number(call.config.axis ?? -1));
  return { ...xs[0]!, name: ctx.b.concat(xs.map((x) => x.name), axis, ctx.out(call.layer)) };
}
