import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from './conv-grads.js';
import { withKernelCalls, type TensorInfo } from './kernel-calls.js';

/**
 * The shipped wasm BatchMatMul uses XNNPACK only when neither side is transposed; otherwise a scalar triple loop
 * (~8x slower). Dense layers' gradients are exactly the transposed cases, so transpose explicitly (cheap, O(n²))
 * and take the XNNPACK path (O(n³), multi-threaded).
 */
export function makeBatchMatMul(original: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const batchOf = (t: TensorInfo) => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if ((!transposeA && !transposeB) || batchOf(a) !== 1 || batchOf(b) !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') {
      return original({ inputs, backend, attrs });
    }
    return withKernelCalls(backend, (calls) => {
      const as2 = calls.reshaped(a, a.shape.slice(-2));
      const bs2 = calls.reshaped(b, b.shape.slice(-2));
      const a2 = transposeA ? calls.run('Transpose', { x: as2 }, { perm: [1, 0] }) : as2;
      const b2 = transposeB ? calls.run('Transpose', { x: bs2 }, { perm: [1, 0] }) : bs2;
      const out = original({ inputs: { a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
      // Keep the caller's rank: outer dims are all 1 here, so the longer list of them is the broadcast result.
      const outer = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
      out.shape = [...outer, a2.shape[0]!, b2.shape[1]!];
      return out;
    });
  };
}

/**
 * Max-pool gradient: each dy goes to the first largest input of its window (the rule of tfjs' cpu backend). The
 * shipped wasm kernel recomputes windows per input pixel; this walks each window once, channels innermost.
 */
export function makeMaxPoolGrad(fallback: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      attrs.filterSize as number | [number, number],
      attrs.strides as number | [number, number],
      1,
      attrs.pad as 'valid' | 'same' | number,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
    if (info.dataFormat !== 'channelsLast') return fallback({ inputs, backend, attrs });
    const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = info;
    return withKernelCalls(backend, (calls) => {
      const out = calls.output(input.shape);
      const xs = calls.f32(input);
      const dys = calls.f32(dy);
      const dx = calls.f32(out);
      dx.fill(0);
      const best = new Float32Array(c);
      const where = new Int32Array(c);
      for (let n = 0; n < batchSize; n++) {
        for (let oy = 0; oy < outHeight; oy++) {
          const y0 = oy * info.strideHeight - info.padInfo.top;
          for (let ox = 0; ox < outWidth; ox++) {
            const x0 = ox * info.strideWidth - info.padInfo.left;
            best.fill(-Infinity);
            where.fill(-1);
            for (let a = 0; a < filterHeight; a++) {
              const iy = y0 + a;
              if (iy < 0 || iy >= inHeight) continue;
              for (let b = 0; b < filterWidth; b++) {
                const ix = x0 + b;
                if (ix < 0 || ix >= inWidth) continue;
                const base = ((n * inHeight + iy) * inWidth + ix) * c;
                for (let ch = 0; ch < c; ch++) {
                  const v = xs[base + ch]!;
                  if (v > best[ch]! || where[ch] === -1) {
                    best[ch] = v;
                    where[ch] = base + ch;
                  }
                }
              }
            }
            const dyBase = ((n * outHeight + oy) * outWidth + ox) * c;
            for (let ch = 0; ch < c; ch++) {
              const at = where[ch]!;
              if (at >= 0) dx[at] += dys[dyBase + ch]!;
            }
          }
        }
      }
      return out;
    });
  };
}

/**
 * Sum over every axis but the last: what a bias gradient is (dy summed over batch, height and width). The shipped
 * kernel first transposes the whole tensor so reduced axes are innermost; a column sum reads it once, in order.
 */
export function makeSum(original: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { x } = inputs as { x: TensorInfo };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape).sort((p, q) => p - q);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((axis, i) => axis === i);
    if (!leading || x.dtype !== 'float32') return original({ inputs, backend, attrs });
    const channels = x.shape[rank - 1]!;
    const rows = tf.util.sizeFromShape(x.shape) / channels;
    return withKernelCalls(backend, (calls) => {
      const out = calls.output(attrs.keepDims === true ? [...Array(rank - 1).fill(1), channels] : [channels]);
      const src = calls.f32(x);
      const acc = new Float64Array(channels);
      for (let r = 0, base = 0; r < rows; r++, base += channels) {
        for (let c = 0; c < channels; c++) acc[c] += src[base + c]!;
      }
      calls.f32(out).set(acc);
      return out;
    });
  };
}
