import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from './conv-grads.js';
import { withKernelCalls, type KernelCalls, type TensorInfo } from './kernel-calls.js';

/**
 * The shipped wasm BatchMatMul uses XNNPACK only when neither side is transposed; otherwise a scalar triple loop
 * (~8x slower). Dense layers' gradients are exactly the transposed cases, so transpose explicitly (O(n²)) and take
 * the XNNPACK path (O(n³), multi-threaded). XNNPACK also repacks its right operand on every call (it is new each
 * step), so when that operand is the big one we compute Cᵀ = op(B)ᵀ·op(A)ᵀ instead: for dx = dy·Wᵀ that packs
 * dyᵀ (batch × units) rather than W (inputs × units).
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
    const sizeA = tf.util.sizeFromShape(a.shape);
    const sizeB = tf.util.sizeFromShape(b.shape);
    const m = transposeA ? a.shape[a.shape.length - 1]! : a.shape[a.shape.length - 2]!;
    const n = transposeB ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
    // Elements moved: explicit transposes + XNNPACK's packing of the right operand (+ transposing C back).
    const direct = (transposeA ? sizeA : 0) + (transposeB ? sizeB : 0) + sizeB;
    const swapped = (transposeB ? 0 : sizeB) + (transposeA ? 0 : sizeA) + sizeA + m * n;
    const outer = a.shape.length >= b.shape.length ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    return withKernelCalls(backend, (calls) => {
      const a2 = calls.reshaped(a, a.shape.slice(-2));
      const b2 = calls.reshaped(b, b.shape.slice(-2));
      const t = (x: TensorInfo) => calls.run('Transpose', { x }, { perm: [1, 0] });
      const plain = { ...attrs, transposeA: false, transposeB: false };
      let out: TensorInfo;
      if (direct <= swapped) {
        out = original({ inputs: { a: transposeA ? t(a2) : a2, b: transposeB ? t(b2) : b2 }, backend, attrs: plain });
      } else {
        const product = original({ inputs: { a: transposeB ? b2 : t(b2), b: transposeA ? a2 : t(a2) }, backend, attrs: plain });
        const productT = calls.reshaped(product, [n, m]);
        out = calls.keep('Transpose', { x: productT }, { perm: [1, 0] });
        backend.disposeData(product.dataId);
      }
      // Keep the caller's rank: outer dims are all 1 here, so the longer list of them is the broadcast result.
      out.shape = [...outer, m, n];
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
    const tiles = filterHeight === info.strideHeight && filterWidth === info.strideWidth && info.padInfo.top === 0 &&
      info.padInfo.left === 0 && outHeight * filterHeight <= inHeight && outWidth * filterWidth <= inWidth;
    if (tiles) return withKernelCalls(backend, (calls) => tiledMaxPoolGrad(calls, dy, input, info));
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
  return makeColumnReduction(original, false);
}

/** Mean over every axis but the last: batch-norm statistics (tf.moments over N, H, W), the same column walk as Sum. */
export function makeMean(original: KernelFunc): KernelFunc {
  return makeColumnReduction(original, true);
}

function makeColumnReduction(original: KernelFunc, mean: boolean): KernelFunc {
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
      // Four rows per pass, added in pairs first: a quarter of the loop overhead and accumulator traffic (~2x faster).
      const step = 4 * channels;
      let r = 0;
      let base = 0;
      for (; r + 4 <= rows; r += 4, base += step) {
        for (let c = 0; c < channels; c++) {
          const i = base + c;
          acc[c] += (src[i]! + src[i + channels]!) + (src[i + 2 * channels]! + src[i + 3 * channels]!);
        }
      }
      for (; r < rows; r++, base += channels) {
        for (let c = 0; c < channels; c++) acc[c] += src[base + c]!;
      }
      if (mean && rows > 0) for (let c = 0; c < channels; c++) acc[c] = acc[c]! / rows;
      calls.f32(out).set(acc);
      return out;
    });
  };
}

/**
 * The usual case (2×2 pool, stride 2, 'valid'): windows tile the input without overlap, so every input pixel is
 * written exactly once (dy or 0) and no zero-fill or scratch arrays are needed.
 */
function tiledMaxPoolGrad(calls: KernelCalls, dy: TensorInfo, input: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight: fh, filterWidth: fw } = info;
  const out = calls.output(input.shape);
  const xs = calls.f32(input);
  const dys = calls.f32(dy);
  const dx = calls.f32(out);
  // Rows/columns past the last window get no gradient.
  if (outHeight * fh < inHeight || outWidth * fw < inWidth) dx.fill(0);
  const rowStride = inWidth * c;
  if (fh === 2 && fw === 2) {
    pairMaxPoolGrad(xs, dys, dx, batchSize, inHeight, outHeight, outWidth, c, rowStride);
    return out;
  }
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const corner = ((n * inHeight + oy * fh) * inWidth + ox * fw) * c;
        const dyBase = ((n * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          let at = corner + ch;
          let best = xs[at]!;
          for (let a = 0; a < fh; a++) {
            for (let b = 0; b < fw; b++) {
              const i = corner + a * rowStride + b * c + ch;
              const v = xs[i]!;
              if (v > best) {
                best = v;
                at = i;
              }
              dx[i] = 0;
            }
          }
          dx[at] = dys[dyBase + ch]!;
        }
      }
    }
  }
  return out;
}

/**
 * 2×2 windows (nearly every CNN's pooling): the four inputs of a window are four runs of `c` contiguous channels,
 * read side by side, so memory is walked in order; the generic loop above strides across them per channel (~5x slower).
 * Ties go to the first of (0,0), (0,1), (1,0), (1,1), as in the generic loop: ReLU makes ties of zeros common.
 * (A non-finite dy also lands, times 0, on the window's other inputs as NaN; training has diverged by then anyway.)
 */
function pairMaxPoolGrad(xs: Float32Array, dys: Float32Array, dx: Float32Array, batchSize: number, inHeight: number,
  outHeight: number, outWidth: number, c: number, rowStride: number): void {
  let d = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const top = (n * inHeight + oy * 2) * rowStride;
      for (let ox = 0; ox < outWidth; ox++, d += c) {
        const p = top + ox * 2 * c;
        const q = p + c;
        const r = p + rowStride;
        const s = r + c;
        for (let ch = 0; ch < c; ch++) {
          const a = xs[p + ch]!;
          const b = xs[q + ch]!;
          const e = xs[r + ch]!;
          const f = xs[s + ch]!;
          const g = dys[d + ch]!;
          // 0/1 flags for "first largest", without branches: the winner is random per channel, and mispredicted
          // branches made this loop 3x slower. a wins ties; b needs a to lose, and so on.
          // (+bool compiles to a flag; `cond ? 1 : 0` compiled to branches and ran 5x slower.)
          const wa = +(a >= b) & +(a >= e) & +(a >= f);
          const wb = (1 - wa) & +(b >= e) & +(b >= f);
          const we = (1 - wa - wb) & +(e >= f);
          // (+ 0 turns the -0 of a negative g times 0 into the 0 the cpu backend writes.)
          dx[p + ch] = g * wa + 0;
          dx[q + ch] = g * wb + 0;
          dx[r + ch] = g * we + 0;
          dx[s + ch] = g * (1 - wa - wb - we) + 0;
        }
      }
    }
  }
}
