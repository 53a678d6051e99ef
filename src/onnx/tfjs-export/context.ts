import type * as tfTypes from '@tensorflow/tfjs';
import { ModelError } from '../../errors.js';
import type { GraphBuilder } from '../builder.js';
import { attr, type AttributeProto } from '../tensor.js';

/**
 * Shared state of one tfjs → ONNX conversion. tfjs is NHWC; ONNX Runtime's conv kernels want NCHW.
 * Every converted tensor therefore remembers how its data is laid out: `plain` means exactly tfjs'
 * order, `NCHW` means a rank-4 tfjs NHWC tensor held channels-first. Layers that care (conv, pool, BN,
 * Flatten, Reshape, Dense on rank 4) ask for the layout they need and a Transpose is inserted once.
 */

export type Layout = 'plain' | 'NCHW';

export interface Value {
  /** ONNX tensor name. */
  name: string;
  /** Rank of the tfjs tensor (batch included). */
  rank: number;
  layout: Layout;
}

export type Layer = tfTypes.layers.Layer;
export type LayerConfig = Record<string, unknown>;

export class ExportContext {
  private readonly toNchwCache = new Map<string, string>();
  private readonly toPlainCache = new Map<string, string>();
  /** Names given to node outputs. They contain ':', which tfjs layer names and the builder's own names never do. */
  private readonly outNames = new Set<string>();

  constructor(readonly b: GraphBuilder) {}

  /** The tensor held channels-first; inserts NHWC→NCHW at most once per tensor. */
  nchw(v: Value, layer: Layer): Value {
    if (v.rank !== 4) throw unsupported(layer, `needs a rank-4 (batch, height, width, channels) input, got rank ${v.rank}`);
    if (v.layout === 'NCHW') return v;
    let name = this.toNchwCache.get(v.name);
    if (!name) {
      name = this.b.transpose(v.name, [0, 3, 1, 2], this.fresh(`${v.name}:nchw`));
      this.toNchwCache.set(v.name, name);
      this.toPlainCache.set(name, v.name);
    }
    return { name, rank: 4, layout: 'NCHW' };
  }

  /** The tensor in tfjs' own order (what Flatten/Reshape/Dense must see, or results silently change). */
  plain(v: Value): Value {
    if (v.layout === 'plain') return v;
    let name = this.toPlainCache.get(v.name);
    if (!name) {
      name = this.b.transpose(v.name, [0, 2, 3, 1], this.fresh(`${v.name}:nhwc`));
      this.toPlainCache.set(v.name, name);
      this.toNchwCache.set(name, v.name);
    }
    return { name, rank: v.rank, layout: 'plain' };
  }

  /** A fresh output name derived from the layer name, e.g. `conv2d_1:conv`. */
  out(layer: Layer, suffix = 'out'): string {
    return this.fresh(`${layer.name}:${suffix}`);
  }

  private fresh(base: string): string {
    let name = base;
    for (let n = 1; this.outNames.has(name); n++) name = `${base}_${n}`;
    this.outNames.add(name);
    return name;
  }

  /** Run an op and return its single output. */
  op(opType: string, inputs: readonly string[], attrs: AttributeProto[] = [], out?: string): string {
    return this.b.node(opType, inputs, attrs, out ? { out: [out] } : {})[0]!;
  }

  scalar(value: number, hint: string): string {
    return this.b.ref({ data: new Float32Array([value]), dims: [] }, hint);
  }

  int64s(values: readonly number[], hint: string): string {
    return this.b.ref({ data: BigInt64Array.from(values, (v) => BigInt(v)), dims: [values.length] }, hint);
  }
}

export { attr };

/** tfjs axis (negative allowed) of a tensor as held: NCHW-held rank-4 tensors move channels to 1. */
export function heldAxis(v: Value, tfjsAxis: number): number {
  const a = tfjsAxis < 0 ? tfjsAxis + v.rank : tfjsAxis;
  if (a < 0 || a >= v.rank) throw new ModelError('EXPORT_BAD_AXIS', `axis ${tfjsAxis} is out of range for a rank-${v.rank} tensor`);
  if (v.layout === 'plain') return a;
  return [0, 2, 3, 1][a]!;
}

/** Error for a layer (or one of its settings) the exporter cannot convert. */
export function unsupported(layer: Layer, what: string): ModelError {
  return new ModelError('EXPORT_UNSUPPORTED_LAYER',
    `layer "${layer.name}" (${layer.getClassName()}) ${what}; it cannot be exported to ONNX. Replace it with a supported layer and retrain, or export with tf2onnx`);
}

/** The layer's weights by short name ('kernel', 'bias', 'gamma', 'moving_mean', ...), as float32 copies with shapes. */
export function layerWeights(layer: Layer): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const w of layer.weights) {
    const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    const t = w.read();
    if (t.dtype !== 'float32') throw unsupported(layer, `has a ${t.dtype} weight "${short}" (only float32 weights are exported)`);
    out.set(short, { data: Float32Array.from(t.dataSync() as Float32Array), shape: [...w.shape] as number[] });
  }
  return out;
}

export function requireWeight(layer: Layer, weights: Map<string, { data: Float32Array; shape: number[] }>, name: string): { data: Float32Array; shape: number[] } {
  const w = weights.get(name);
  if (!w) throw unsupported(layer, `has no "${name}" weight (found: ${[...weights.keys()].join(', ') || 'none'})`);
  return w;
}

/** Spatial (height, width) of a layer's input, from its inbound node's static shape. */
export function spatialInput(shape: readonly (number | null)[]): [number | null, number | null] {
  return [shape[1] ?? null, shape[2] ?? null];
}
