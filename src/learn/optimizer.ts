import * as tf from '@tensorflow/tfjs';
import { ADAM_STEP, type AdamStepAttrs } from './backend/wasm-kernels/adam.js';

/**
 * Adam as tf.train.adam, with each variable's update done by one fused kernel where the backend has it (wasm, see
 * backend/wasm-kernels/adam.ts); elsewhere tfjs' own update. Same hyper-parameters, state and serialisation.
 */
export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!tf.getKernel(ADAM_STEP, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as {
      accBeta1: tf.Variable; accBeta2: tf.Variable; epsilon: number;
      accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable }>;
      accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable }>;
    };
    const named = Array.isArray(variableGradients) ? variableGradients : Object.entries(variableGradients).map(([name, tensor]) => ({ name, tensor }));
    const attrs: AdamStepAttrs = {
      lr: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: self.epsilon,
      correction1: 1 - self.accBeta1.dataSync()[0]!, correction2: 1 - self.accBeta2.dataSync()[0]!,
    };
    named.forEach(({ name, tensor: gradient }, i) => {
      const value = tf.engine().registeredVariables[name]!;
      self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      if (gradient == null) return;
      const m = self.accumulatedFirstMoment[i]!.variable;
      const v = self.accumulatedSecondMoment[i]!.variable;
      const [newValue, newM, newV] = tf.engine().runKernel(ADAM_STEP, { value, m, v, gradient }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      value.assign(newValue!);
      m.assign(newM!);
      v.assign(newV!);
      tf.dispose([newValue!, newM!, newV!]);
    });
    tf.tidy(() => {
      self.accBeta1.assign(self.accBeta1.mul(this.beta1));
      self.accBeta2.assign(self.accBeta2.mul(this.beta2));
    });
    this.incrementIterations();
  }
}

/** The optimizer every edgecam training uses: Adam with tf.train.adam's defaults (β1 0.9, β2 0.999, ε the backend's 1e-7). */
export function createAdam(lr: number): tf.Optimizer {
  return new FusedAdam(lr, 0.9, 0.999);
}
