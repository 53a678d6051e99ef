import * as tf from '@tensorflow/tfjs';

/**
 * The gradient of FusedBatchNorm (what tfjs-layers' BatchNormalization runs in training) without `tile`.
 * tfjs-core's own gradient tiles 1/√(var+ε) to the full [N,H,W,C] shape before multiplying; the wasm Tile kernel
 * is a per-element index loop, and on a 4-block CNN it took more time than every conv gradient together (2.2 s of
 * 4.9 s for three batches). Broadcasting the [C] vector in the multiply gives the same values (the same formulas
 * otherwise, term for term) and uses the backend's vectorised binary op.
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
    // Sum over the broadcast axes back to the statistics' shape (nothing to sum when they are per-element).
    const toStatShape = (t: tf.Tensor) => (reductionAxes.length ? t.sum(reductionAxes) : t).reshape(mean.shape);
    const xMinusMean = x.sub(mean);
    const dyTimesScale = dyT.mul(scaleValue);
    const rsqrtVar = variance.add(tf.scalar(varianceEpsilon)).rsqrt();
    const minusHalfRCube = rsqrtVar.mul(rsqrtVar).mul(rsqrtVar).mul(tf.scalar(-0.5));
    return {
      x: () => dyT.mul(rsqrtVar.mul(scaleValue)).reshape(x.shape),
      mean: () => toStatShape(rsqrtVar.mul(tf.scalar(-1)).mul(dyTimesScale)),
      variance: () => toStatShape(minusHalfRCube.mul(xMinusMean).mul(dyTimesScale)),
      scale: () => toStatShape(dyT.mul(xMinusMean.mul(rsqrtVar))),
      offset: () => toStatShape(dyT),
    };
  },
};
