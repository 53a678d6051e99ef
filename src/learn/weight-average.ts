import * as tf from '@tensorflow/tfjs';
import { TrainingError } from './errors.js';

/**
 * An exponential moving average of a model's weights (Polyak averaging, as Keras' `use_ema` and timm's ModelEma):
 * after every optimizer step, average ← decay·average + (1 − decay)·weights (bias-corrected). The averaged model is steadier than the
 * live one while the learning rate is high, where a long distillation run's validation accuracy swings by 10+ points
 * from epoch to epoch. It covers every weight, batch-norm moving statistics included, as timm does.
 */
export interface WeightAverage {
  /** Fold the current weights in (call after each optimizer step). */
  update(): void;
  /** Runs `body` with the averaged weights in the model, then puts the live ones back. */
  withAveraged<T>(body: () => T): T;
  /** Copies of the averaged weights (for model.setWeights), owned by the caller. */
  snapshot(): tf.Tensor[];
  dispose(): void;
}

/** Checks a decay from the command line: 0 = off, else in (0, 1), e.g. 0.998 (about 500 steps of memory). */
export function checkAverageDecay(decay: number): void {
  if (!(decay >= 0 && decay < 1)) {
    throw new TrainingError('TRAIN_BAD_OPTION', `--ema must be 0 (off) or a decay below 1 such as 0.998 (the average remembers about 1/(1 − decay) steps), got ${decay}`);
  }
}

export function createWeightAverage(model: tf.LayersModel, decay: number): WeightAverage {
  checkAverageDecay(decay);
  const live = model.weights;
  // Started at zero and divided by 1 − decayᵗ (Adam's bias correction), the average is over the steps taken so far
  // only: started at the initial weights instead, it would still hold 0.998³⁰⁰ = 55 % random weights after 300 steps.
  const sums = live.map((w) => tf.variable(tf.zerosLike(w.read()), false));
  const keep = tf.scalar(decay);
  const take = tf.scalar(1 - decay);
  let steps = 0;
  const averaged = (): tf.Tensor[] => {
    if (steps === 0) return live.map((w) => w.read().clone());
    return tf.tidy(() => {
      const correction = tf.scalar(1 / (1 - decay ** steps));
      return sums.map((s) => s.mul(correction));
    });
  };
  return {
    update() {
      tf.tidy(() => sums.forEach((s, i) => s.assign(s.mul(keep).add(live[i]!.read().mul(take)))));
      steps += 1;
    },
    withAveraged(body) {
      const current = model.getWeights().map((t) => t.clone());
      const average = averaged();
      try {
        model.setWeights(average);
        return body();
      } finally {
        model.setWeights(current);
        tf.dispose([...current, ...average]);
      }
    },
    snapshot: averaged,
    dispose() {
      tf.dispose([...sums, keep, take]);
    },
  };
}
