import * as tf from '@tensorflow/tfjs';
import { withKernelCalls, type TensorInfo } from './kernel-calls.js';

/** Name of our kernel for the per-channel case (wasm only; registered by register.ts). */
export const BATCH_NORM_GRAD_SUMS = 'EdgecamBatchNormGradSums';

/**
 * The gradient of FusedBatchNorm (what tfjs-layers' BatchNormalization runs in training) without `tile`.
 * tfjs-core's own gradient tiles 1/√(var+ε) to the full [N,H,W,C] shape before multiplying; the wasm Tile kernel
 * is a per-element index loop, and on a 4-block CNN it took more time than every conv gradient together (2.2 s of
 * 4.9 s for three batches). Broadcasting the [C] vector in the multiply gives the same values (the same formulas
 * otherwise, term for term) and uses the backend's vectorised binary op.
 *
 * With per-channel statistics (training: mean and variance of shape [C]) every gradient but dx needs only two sums
 * per channel, Σdy and Σdy·(x − mean): with r = 1/√(var+ε) and s = scale, dmean = −r·s·Σdy, dvar = −½r³·s·Σdy·(x−mean),
 * dscale = r·Σdy·(x−mean), doffset = Σdy, dx = dy·r·s. Where the backend has our kernel (wasm) it makes dx and both
 * sums in one pass over memory; the op-by-op form took 8 whole-tensor passes and 4 reductions (~25 % of a BN CNN step).
 */
export const batchNormGradConfig: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const dyT = dy as tf.Tensor;
    const scaleValue = scale ?? tf.scalar(1);
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const rsqrtVar = variance.add(tf.scalar(varianceEpsilon)).rsqrt();
    const minusHalfRCube = rsqrtVar.mul(rsqrtVar).mul(rsqrtVar).mul(tf.scalar(-0.5));
    const channels = x.shape[x.rank - 1]!;
    const perChannel = reductionAxes.length === x.rank - 1 && reductionAxes.every((axis, i) => axis === i) && mean.size === channels &&
      variance.size === channels && (scale === undefined || scale.size === channels) && tf.getKernel(BATCH_NORM_GRAD_SUMS, tf.getBackend()) !== undefined;
    if (perChannel) {
      const [dx, sumDy, sumDyXmu] = tf.engine().runKernel(BATCH_NORM_GRAD_SUMS, { dy: dyT, x, mean, variance, ...(scale ? { scale } : {}) },
        { varianceEpsilon }) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const perC = (t: tf.Tensor) => t.reshape([channels]);
      const s = scale ? perC(scale) : tf.scalar(1);
      const asStat = (t: tf.Tensor) => t.reshape(mean.shape);
      return {
        x: () => dx.reshape(x.shape),
        mean: () => asStat(perC(rsqrtVar).mul(s).mul(sumDy).neg()),
        variance: () => asStat(perC(minusHalfRCube).mul(s).mul(sumDyXmu)),
        scale: () => asStat(perC(rsqrtVar).mul(sumDyXmu)),
        offset: () => asStat(sumDy),
      };
    }
    // Sum over the broadcast axes back to the statistics' shape (nothing to sum when they are per-element).
    const toStatShape = (t: tf.Tensor) => (reductionAxes.length ? t.sum(reductionAxes) : t).reshape(mean.shape);
    const xMinusMean = x.sub(mean);
    const dyTimesScale = dyT.mul(scaleValue);
    return {
      x: () => dyT.mul(rsqrtVar.mul(scaleValue)).reshape(x.shape),
      mean: () => toStatShape(rsqrtVar.mul(tf.scalar(-1)).mul(dyTimesScale)),
      variance: () => toStatShape(minusHalfRCube.mul(xMinusMean).mul(dyTimesScale)),
      scale: () => toStatShape(dyT.mul(xMinusMean.mul(rsqrtVar))),
      offset: () => toStatShape(dyT),
    };
  },
};

/** dx = dy·r·s, Σdy and Σdy·(x − mean) per channel (the last axis), in one pass; see batchNormGradConfig. */
export function batchNormGradSumsKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): TensorInfo[] {
  return withKernelCalls(backend, (calls) => {
    const { dy, x, mean, variance, scale } = inputs as { dy: TensorInfo; x: TensorInfo; mean: TensorInfo; variance: TensorInfo; scale?: TensorInfo };
    const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const channels = x.shape[x.shape.length - 1]!;
    const outputs = [calls.output(x.shape), calls.output([channels]), calls.output([channels])];
    const [dys, xs, means, variances, dx, sumDy, sumDyXmu] = [dy, x, mean, variance, ...outputs].map((t) => calls.f32(t)) as Float32Array[] as
      [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const scales = scale ? calls.f32(scale) : undefined;
    const factor = Float64Array.from(variances, (v, c) => (scales ? scales[c]! : 1) / Math.sqrt(v + epsilon));
    const s1 = new Float64Array(channels);
    const s2 = new Float64Array(channels);
    for (let base = 0; base < xs.length; base += channels) {
      for (let c = 0; c < channels; c++) {
        const i = base + c;
        const d = dys[i]!;
        s1[c] += d;
        s2[c] += d * (xs[i]! - means[c]!);
        dx[i] = d * factor[c]!;
      }
    }
    sumDy.set(s1);
    sumDyXmu.set(s2);
    return outputs;
  });
}
