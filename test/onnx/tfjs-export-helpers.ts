import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { exportLayersModelToOnnx, PARITY_TOLERANCE, type ExportOptions, type ExportResult } from '../../src/onnx/tfjs-export.js';
import { nhwcToNchw } from '../../src/onnx/tfjs-export/parity.js';
import { runOnnx } from './run-ort.js';

/** Shared by the tfjs-export tests: seeded weights, and a parity check independent of the exporter's own. */

export async function useCpuBackend(): Promise<typeof tf> {
  await tf.setBackend('cpu');
  await tf.ready();
  return tf;
}

/**
 * Fresh layers start with zero biases, unit BN statistics and so on, which would hide mistakes in
 * how those weights are converted: give every weight seeded random values (variances positive).
 */
export function randomizeWeights(model: tf.LayersModel, seed = 7): void {
  let s = seed;
  for (const w of model.weights) {
    const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    const values = tf.tidy(() => {
      const r = tf.randomNormal(w.shape as number[], 0, 0.5, 'float32', s++);
      return short === 'moving_variance' ? r.abs().add(0.3) : r;
    });
    w.write(values);
  }
}

/** Deterministic uniform values in [lo, hi). */
export function seededInput(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return lo + (hi - lo) * (a / 4294967296);
  });
}

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs the exported bytes in ONNX Runtime and the model in tfjs on new inputs; returns the largest difference. */
export async function independentDiff(model: tf.LayersModel, r: ExportResult, opts: { batch?: number; seed?: number; range?: [number, number] } = {}): Promise<number> {
  const shape = [opts.batch ?? 3, ...model.inputs[0]!.shape.slice(1).map((d) => d ?? 8)];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = seededInput(size, opts.seed ?? 99, ...(opts.range ?? [-1, 1]));
  const want = tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array);
  const nchw = r.layout === 'NCHW' && shape.length === 4;
  const feed = nchw ? { data: nhwcToNchw(x, shape), dims: [shape[0]!, shape[3]!, shape[1]!, shape[2]!] } : { data: x, dims: shape };
  const got = (await runOnnx(r.modelBytes, { [r.inputName]: feed }))[r.outputName]!;
  const outShape = (model.outputs[0]!.shape as (number | null)[]).map((d, i) => (i === 0 ? shape[0]! : d!));
  const wantHeld = r.layout === 'NCHW' && outShape.length === 4 ? nhwcToNchw(want, outShape) : want;
  return maxDiff(got.data, wantHeld);
}

/** Export, then check both the exporter's parity figure and an independent run. */
export async function assertExportParity(model: tf.LayersModel, opts: ExportOptions = {}): Promise<ExportResult> {
  const r = await exportLayersModelToOnnx(model, opts);
  assert.ok(r.parityMaxAbsDiff <= PARITY_TOLERANCE, `exporter parity ${r.parityMaxAbsDiff}`);
  const d = await independentDiff(model, r, opts.parityRange ? { range: opts.parityRange } : {});
  assert.ok(d <= PARITY_TOLERANCE, `ONNX Runtime vs tfjs differ by ${d}`);
  return r;
}

/** A Sequential from layers, with seeded random weights. */
export function seq(layers: tf.layers.Layer[], seed = 7): tf.LayersModel {
  const m = tf.sequential({ layers });
  randomizeWeights(m, seed);
  return m;
}
