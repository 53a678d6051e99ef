import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend } from '../../src/learn/backend/index.js';
import { silentLogger } from '../../src/logger.js';
import { createAdam } from '../../src/learn/optimizer.js';

function seeded(size: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 31 - 1) * scale;
  });
}

/** Five Adam steps on two variables with fixed gradients; returns the values and the optimizer's m and v. */
async function steps(optimizer: tf.Optimizer, tag: string): Promise<{ values: Float32Array[]; state: Float32Array[]; kernels: string[] }> {
  const shapes = [[300, 7], [7]];
  const vars = shapes.map((shape, i) => tf.variable(tf.tensor(seeded(tf.util.sizeFromShape(shape), 10 + i), shape), true, `${tag}_${i}`));
  const kernels: string[] = [];
  for (let step = 0; step < 5; step++) {
    const grads = shapes.map((shape, i) => tf.tensor(seeded(tf.util.sizeFromShape(shape), 100 * step + i, 10 ** (i - step)), shape));
    const profile = await tf.profile(() => optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i]! }))));
    kernels.push(...profile.kernels.map((k) => k.name));
    tf.dispose(grads);
  }
  const state = await Promise.all((await optimizer.getWeights()).slice(1).map(async (w) => (await w.tensor.data()) as Float32Array));
  const values = vars.map((v) => v.dataSync() as Float32Array);
  tf.dispose(vars);
  optimizer.dispose();
  return { values, state, kernels };
}

/** Worst |a − b| relative to the largest |b| of the same array (moments range from 1e-8 to 1). */
function maxRelativeDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((arr, i) => {
    const scale = Math.max(...Array.from(b[i]!, Math.abs));
    arr.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - b[i]![j]!) / scale); });
  });
  return worst;
}

test('the fused Adam step on wasm gives tf.train.adam\'s values, moments included, in one kernel per variable', async () => {
  assert.equal((await initTrainingBackend({ logger: silentLogger(), prefer: 'wasm' })).backend, 'wasm');
  const fused = await steps(createAdam(0.01), 'fused');
  const reference = await steps(tf.train.adam(0.01), 'reference');
  assert.equal(fused.values.length, 2);
  assert.equal(fused.state.length, 4, 'm and v of both variables');
  assert.ok(maxRelativeDiff(fused.values, reference.values) < 1e-5, `values differ by ${maxRelativeDiff(fused.values, reference.values)}`);
  assert.ok(maxRelativeDiff(fused.state, reference.state) < 1e-5, `moments differ by ${maxRelativeDiff(fused.state, reference.state)}`);
  assert.equal(fused.kernels.filter((k) => k === 'EdgecamAdamStep').length, 10, 'one fused step per variable and step');
  assert.ok(!fused.kernels.includes('Sqrt'), 'no element-wise ops of its own');
  assert.ok(reference.values[0]!.some((x, i) => Math.abs(x - seeded(2100, 10)[i]!) > 1e-3), 'the reference moved the weights');
});

test('on a backend without the fused kernel (cpu) it is tfjs\' own Adam', async () => {
  await tf.setBackend('cpu');
  const fused = await steps(createAdam(0.01), 'cpu_fused');
  const reference = await steps(tf.train.adam(0.01), 'cpu_reference');
  assert.deepEqual(fused.values, reference.values);
  assert.deepEqual(fused.state, reference.state);
});
