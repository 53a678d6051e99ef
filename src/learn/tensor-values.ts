import * as tf from '@tensorflow/tfjs';

/**
 * Runs `fn` inside tf.tidy and returns its tensor's values, the tensor freed. The tensor, not its data, must leave
 * tidy: tidy walks a returned typed array element by element looking for tensors (0.4 s for one 224 px image here).
 */
export function tidyValues(fn: () => tf.Tensor): Float32Array {
  const t = tf.tidy(fn);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}
