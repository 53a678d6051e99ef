import * as tf from '@tensorflow/tfjs';
import { KernelCalls, withKernelCalls, type TensorInfo } from './kernel-calls.js';

type Pads = [[number, number], [number, number], [number, number], [number, number]];

/** Signature shared by every kernel function here, so a fallback can be called the same way. */
export type KernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => TensorInfo;

function convInfoOf(attrs: tf.NamedAttrMap, xShape: number[], filterShape: number[], depthwise = false) {
  const format = tf.backend_util.convertConv2DDataFormat((attrs.dataFormat as 'NHWC' | 'NCHW' | undefined) ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    depthwise,
    format,
  );
}

/**
 * dx of a convolution as a forward convolution (XNNPACK, multi-threaded) of dy, zero-upsampled by the stride, with
 * the filter turned 180° and its in/out channels swapped. The shipped wasm kernel is a scalar loop, ~7x slower.
 */
export function makeConv2DBackpropInput(fallback: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const info = convInfoOf(attrs, attrs.inputShape as number[], filter.shape);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const upH = (info.outHeight - 1) * sh + 1;
    const upW = (info.outWidth - 1) * sw + 1;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = info.inHeight + kh - 1 - top - upH;
    const right = info.inWidth + kw - 1 - left - upW;
    if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1 ||
      Math.min(top, left, bottom, right) < 0) {
      return fallback({ inputs, backend, attrs });
    }
    return withKernelCalls(backend, (calls) => {
      const flipped = flipFilter(calls, filter);
      const upsampled = sh === 1 && sw === 1 ? dy : upsample(calls, dy, sh, sw, upH, upW);
      const pad: Pads = [[0, 0], [top, bottom], [left, right], [0, 0]];
      return calls.keep('Conv2D', { x: upsampled, filter: flipped }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] });
    });
  };
}

/** [kh, kw, ci, co] → [kh, kw, co, ci] turned 180° in space. */
function flipFilter(calls: KernelCalls, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const out = calls.temp([kh, kw, co, ci]);
  const src = calls.f32(filter);
  const dst = calls.f32(out);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const s = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
      const d = (a * kw + b) * co * ci;
      for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) dst[d + o * ci + i] = src[s + i * co + o]!;
    }
  }
  return out;
}

/** Puts stride-1 zeros between dy's rows and columns. */
function upsample(calls: KernelCalls, dy: TensorInfo, sh: number, sw: number, upH: number, upW: number): TensorInfo {
  const [n, oh, ow, c] = dy.shape as [number, number, number, number];
  const out = calls.temp([n, upH, upW, c]);
  const src = calls.f32(dy);
  const dst = calls.f32(out);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const s = ((b * oh + y) * ow + x) * c;
        dst.set(src.subarray(s, s + c), ((b * upH + y * sh) * upW + x * sw) * c);
      }
    }
  }
  return out;
}

/**
 * dW of a convolution as one forward convolution (XNNPACK) where the batch and channel axes trade places:
 * x as [ci, h, w, n] convolved with dy as a [oh, ow, n, co] filter, dilated by the stride, gives [ci, kh, kw, co].
 */
export function makeConv2DBackpropFilter(fallback: KernelFunc | undefined): KernelFunc {
  return ({ inputs, backend, attrs = {} }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const filterShape = attrs.filterShape as [number, number, number, number];
    const info = convInfoOf(attrs, x.shape, filterShape);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    if (info.dataFormat !== 'channelsLast' || info.dilationHeight !== 1 || info.dilationWidth !== 1) {
      if (fallback) return fallback({ inputs, backend, attrs });
      throw new Error('Conv2DBackpropFilter on wasm supports NHWC and dilation 1 only');
    }
    const bottom = Math.max(0, kh + (info.outHeight - 1) * sh - info.inHeight - info.padInfo.top);
    const right = Math.max(0, kw + (info.outWidth - 1) * sw - info.inWidth - info.padInfo.left);
    return withKernelCalls(backend, (calls) => {
      const xT = calls.run('Transpose', { x }, { perm: [3, 1, 2, 0] });
      const dyT = calls.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
      const pad: Pads = [[0, 0], [info.padInfo.top, bottom], [info.padInfo.left, right], [0, 0]];
      const r = calls.run('Conv2D', { x: xT, filter: dyT }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [sh, sw] });
      return cropTransposeFilter(calls, r, filterShape);
    });
  };
}

/** [ci, rh, rw, co] (rh ≥ kh, rw ≥ kw) → [kh, kw, ci, co]. */
function cropTransposeFilter(calls: KernelCalls, r: TensorInfo, filterShape: number[]): TensorInfo {
  const [kh, kw, ci, co] = filterShape as [number, number, number, number];
  const [, rh, rw] = r.shape as [number, number, number, number];
  const out = calls.output([kh, kw, ci, co]);
  const src = calls.f32(r);
  const dst = calls.f32(out);
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      for (let i = 0; i < ci; i++) {
        const s = ((i * rh + a) * rw + b) * co;
        dst.set(src.subarray(s, s + co), ((a * kw + b) * ci + i) * co);
      }
    }
  }
  return out;
}
