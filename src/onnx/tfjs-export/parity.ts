import type * as tfTypes from '@tensorflow/tfjs';
import { mulberry32 } from '../../random.js';

/**
 * Runs the exported ONNX bytes in ONNX Runtime and the tfjs model (on whatever tfjs backend is
 * active) on the same seeded random inputs and returns the largest absolute output difference.
 */

export interface ParityPlan {
  inputName: string;
  outputNames: string[];
  /** tfjs (NHWC) input shape with a concrete batch. */
  tfjsInputShape: number[];
  /** When 'NCHW', the ONNX input (and rank-4 outputs) are channels-first. */
  layout: 'NHWC' | 'NCHW';
  /** The first ONNX output is [1 − p, p] for the tfjs sigmoid output p. */
  twoClassFirstOutput?: boolean;
  samples: number;
  range: [number, number];
  seed: number;
}

/** mulberry32: small, seeded, good enough for test inputs. */
const rng = mulberry32;

/** NHWC ↔ NCHW for a flat rank-4 buffer. */
export function nhwcToNchw(data: Float32Array, [n, h, w, c]: readonly number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let b = 0; b < n!; b++) for (let y = 0; y < h!; y++) for (let x = 0; x < w!; x++) for (let k = 0; k < c!; k++) {
    out[((b * c! + k) * h! + y) * w! + x] = data[((b * h! + y) * w! + x) * c! + k]!;
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return max;
}

export async function measureParity(model: tfTypes.LayersModel, modelBytes: Uint8Array, plan: ParityPlan): Promise<number> {
  const tf = await import('@tensorflow/tfjs');
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelBytes, { logSeverityLevel: 3, intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const random = rng(plan.seed);
    const size = plan.tfjsInputShape.reduce((a, b) => a * b, 1);
    const [lo, hi] = plan.range;
    let worst = 0;
    for (let s = 0; s < plan.samples; s++) {
      const input = Float32Array.from({ length: size }, () => lo + (hi - lo) * random());
      const expected = tf.tidy(() => {
        const y = model.predict(tf.tensor(input, plan.tfjsInputShape)) as tfTypes.Tensor | tfTypes.Tensor[];
        return (Array.isArray(y) ? y : [y]).map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
      });
      const rank4 = plan.tfjsInputShape.length === 4;
      const feedData = plan.layout === 'NCHW' && rank4 ? nhwcToNchw(input, plan.tfjsInputShape) : input;
      const feedDims = plan.layout === 'NCHW' && rank4
        ? [plan.tfjsInputShape[0]!, plan.tfjsInputShape[3]!, plan.tfjsInputShape[1]!, plan.tfjsInputShape[2]!] : plan.tfjsInputShape;
      const results = await session.run({ [plan.inputName]: new ort.Tensor('float32', feedData, feedDims) });
      plan.outputNames.forEach((name, i) => {
        const want = expected[i]!;
        let wantData = plan.layout === 'NCHW' && want.shape.length === 4 ? nhwcToNchw(want.data, want.shape) : want.data;
        if (i === 0 && plan.twoClassFirstOutput) wantData = Float32Array.from({ length: want.data.length * 2 }, (_, k) => (k % 2 === 0 ? 1 - want.data[k >> 1]! : want.data[k >> 1]!));
        worst = Math.max(worst, maxAbsDiff(results[name]!.data as Float32Array, wantData));
      });
    }
    return worst;
  } finally {
    await session.release();
  }
}
