import type * as tf from '@tensorflow/tfjs';
import { withKernelCalls, type TensorInfo } from './kernel-calls.js';

/** Name of the fused Adam step kernel (ours; tfjs has none): learn/optimizer.ts calls it on wasm. */
export const ADAM_STEP = 'EdgecamAdamStep';

export interface AdamStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 − beta1ᵗ and 1 − beta2ᵗ: Adam's bias corrections for this step. */
  correction1: number;
  correction2: number;
}

/**
 * One Adam update of one variable in a single pass: inputs value, m, v, gradient; outputs the new value, m and v
 * (fresh buffers: a variable's buffer may be shared with a snapshot, see identity.ts). tfjs' AdamOptimizer makes
 * ~13 whole-tensor ops of it, each a pass over memory; for a 1.6 M-weight Dense layer that was ~10 % of a step.
 * Same formula, term for term: m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², w' = w − lr·(m'/c1)/(√(v'/c2) + ε).
 */
export const adamStepKernel = ({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): TensorInfo[] =>
  withKernelCalls(backend, (calls) => {
    const { value, m, v, gradient } = inputs as { value: TensorInfo; m: TensorInfo; v: TensorInfo; gradient: TensorInfo };
    const { lr, beta1, beta2, epsilon, correction1, correction2 } = attrs as unknown as AdamStepAttrs;
    const outputs = [value, m, v].map((t) => calls.output(t.shape));
    const [w0, m0, v0, g, w1, m1, v1] = [value, m, v, gradient, ...outputs].map((t) => calls.f32(t)) as Float32Array[] as
      [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const keep1 = 1 - beta1;
    const keep2 = 1 - beta2;
    for (let i = 0; i < w0.length; i++) {
      const gi = g[i]!;
      const mi = m0[i]! * beta1 + gi * keep1;
      const vi = v0[i]! * beta2 + gi * gi * keep2;
      m1[i] = mi;
      v1[i] = vi;
      w1[i] = w0[i]! - (lr * (mi / correction1)) / (Math.sqrt(vi / correction2) + epsilon);
    }
    return outputs;
  });
