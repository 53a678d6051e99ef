import * as tf from '@tensorflow/tfjs';
import type { KernelFunc } from './conv-grads.js';
import { withKernelCalls, type TensorInfo } from './kernel-calls.js';

/**
 * Depthwise convolution gradients, which the wasm backend lacks. Depthwise layers are cheap (no channel mixing), so
 * plain loops over NHWC with the channel axis innermost (contiguous) are enough here.
 */
function infoOf(attrs: tf.NamedAttrMap, xShape: number[], filterShape: number[]) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as 'valid' | 'same' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    true,
  );
  if (info.dataFormat !== 'channelsLast') throw new Error('depthwise gradients on wasm support NHWC only');
  return info;
}

export const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = infoOf(attrs, x.shape, filterShape);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, outChannels } = info;
  const mult = outChannels / c;
  const [kh, kw] = filterShape;
  return withKernelCalls(backend, (calls) => {
    const out = calls.output(filterShape);
    const xs = calls.f32(x);
    const dys = calls.f32(dy);
    const dw = calls.f32(out);
    dw.fill(0);
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const wBase = (a * kw + b) * outChannels;
        for (let n = 0; n < batchSize; n++) {
          for (let oy = 0; oy < outHeight; oy++) {
            const iy = oy * info.strideHeight + a * info.dilationHeight - info.padInfo.top;
            if (iy < 0 || iy >= inHeight) continue;
            for (let ox = 0; ox < outWidth; ox++) {
              const ix = ox * info.strideWidth + b * info.dilationWidth - info.padInfo.left;
              if (ix < 0 || ix >= inWidth) continue;
              const xBase = ((n * inHeight + iy) * inWidth + ix) * c;
              const dyBase = ((n * outHeight + oy) * outWidth + ox) * outChannels;
              for (let ch = 0; ch < c; ch++) {
                const xv = xs[xBase + ch]!;
                for (let m = 0; m < mult; m++) dw[wBase + ch * mult + m] += xv * dys[dyBase + ch * mult + m]!;
              }
            }
          }
        }
      }
    }
    return out;
  });
};

export const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs = {} }) => {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const info = infoOf(attrs, attrs.inputShape as number[], filter.shape);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, outChannels } = info;
  const mult = outChannels / c;
  const [kh, kw] = filter.shape as [number, number, number, number];
  return withKernelCalls(backend, (calls) => {
    const out = calls.output([batchSize, inHeight, inWidth, c]);
    const ws = calls.f32(filter);
    const dys = calls.f32(dy);
    const dx = calls.f32(out);
    dx.fill(0);
    for (let n = 0; n < batchSize; n++) {
      for (let oy = 0; oy < outHeight; oy++) {
        for (let ox = 0; ox < outWidth; ox++) {
          const dyBase = ((n * outHeight + oy) * outWidth + ox) * outChannels;
          for (let a = 0; a < kh; a++) {
            const iy = oy * info.strideHeight + a * info.dilationHeight - info.padInfo.top;
            if (iy < 0 || iy >= inHeight) continue;
            for (let b = 0; b < kw; b++) {
              const ix = ox * info.strideWidth + b * info.dilationWidth - info.padInfo.left;
              if (ix < 0 || ix >= inWidth) continue;
              const xBase = ((n * inHeight + iy) * inWidth + ix) * c;
              const wBase = (a * kw + b) * outChannels;
              for (let ch = 0; ch < c; ch++) {
                let sum = 0;
                for (let m = 0; m < mult; m++) sum += dys[dyBase + ch * mult + m]! * ws[wBase + ch * mult + m]!;
                dx[xBase + ch] += sum;
              }
            }
          }
        }
      }
    }
    return out;
  });
};
