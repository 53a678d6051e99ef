import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { colourTensors as colourData } from './synthetic.js';
import { buildCnn } from '../../src/learn/models.js';
import { evaluateSet, fitModel, type EpochLogs, type TrainData } from '../../src/learn/train.js';
import { checkAverageDecay, createWeightAverage } from '../../src/learn/weight-average.js';
import { TrainingError } from '../../src/learn/errors.js';

await tf.setBackend('cpu');

function denseModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [2], units: 1, useBias: true }));
  return model;
}

const values = (model: tf.LayersModel) => model.getWeights().map((w) => Array.from(w.dataSync()));

test('the average weighs the steps taken so far by decay^age (bias-corrected), and withAveraged puts the live weights back', () => {
  const model = denseModel();
  model.setWeights([tf.tensor2d([[1], [2]]), tf.tensor1d([4])]);
  const average = createWeightAverage(model, 0.75);
  assert.deepEqual(average.snapshot().map((t) => Array.from(t.dataSync())), [[1, 2], [4]], 'no step yet: the weights themselves');
  model.setWeights([tf.tensor2d([[5], [6]]), tf.tensor1d([0])]);
  average.update();
  assert.deepEqual(average.snapshot().map((t) => Array.from(t.dataSync())), [[5, 6], [0]], 'one step: that step (the initial weights do not count)');
  model.setWeights([tf.tensor2d([[1], [2]]), tf.tensor1d([7])]);
  average.update();
  // (0.75·0.25·old + 0.25·new) / (1 − 0.75²) = (3·old + 4·new) / 7
  const expected = [[(3 * 5 + 4 * 1) / 7, (3 * 6 + 4 * 2) / 7], [(3 * 0 + 4 * 7) / 7]];
  const close = (got: number[][]) => got.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - expected[i]![j]!) < 1e-6, `${v} vs ${expected[i]![j]}`)));
  close(average.snapshot().map((t) => Array.from(t.dataSync())));
  close(average.withAveraged(() => values(model)));
  assert.deepEqual(values(model), [[1, 2], [7]], 'live weights restored');
  average.dispose();
  model.dispose();
});

test('--ema rejects decays outside [0, 1) with a message that says what to pass', () => {
  for (const bad of [1, 1.5, -0.1, Number.NaN]) {
    assert.throws(() => checkAverageDecay(bad), (err: unknown) => err instanceof TrainingError && /--ema must be 0 \(off\) or a decay below 1 such as 0\.998/.test(err.message));
  }
  assert.doesNotThrow(() => checkAverageDecay(0));
  assert.doesNotThrow(() => checkAverageDecay(0.998));
});

test('fit with --ema validates, picks and keeps the averaged weights (batch-norm statistics included)', async () => {
  const train = colourData(48, 1);
  const val = colourData(16, 2);
  const model = buildCnn({ inputSize: 8, filters: [4], convsPerBlock: 1, dense: [8], dropout: 0, batchNorm: true, nClasses: 2, seed: 5 }, 'softmax');
  const live: tf.Tensor[][] = [];
  const reporter = { epochEnd: (_logs: EpochLogs) => { live.push(model.getWeights().map((w) => w.clone())); } };
  const r = await fitModel(model, train, val, { epochs: 6, batchSize: 8, lr: 0.02, patience: 0, seed: 1, nClasses: 2, activation: 'softmax', ema: 0.9 }, reporter);
  const o = { batchSize: 16, nClasses: 2, activation: 'softmax' as const };
  // The model ends with the weights that scored the best epoch's recorded validation loss…
  const restored = evaluateSet(model, val, o);
  assert.ok(Math.abs(restored.loss - r.history[r.bestEpoch - 1]!.valLoss!) < 1e-5, `restored ${restored.loss} vs recorded ${r.history[r.bestEpoch - 1]!.valLoss}`);
  // …and those are not the live weights of that epoch: every tensor, moving mean and variance too, was averaged.
  const finalWeights = model.getWeights();
  live[r.bestEpoch - 1]!.forEach((w, i) => {
    const diff = tf.max(tf.abs(tf.sub(w, finalWeights[i]!))).dataSync()[0]!;
    assert.ok(diff > 1e-6, `weight ${i} (${model.weights[i]!.name}) equals the live one`);
  });
  assert.ok(r.history.at(-1)!.valAcc! >= 0.9, `val accuracy ${r.history.at(-1)!.valAcc}`);
  tf.dispose(live.flat());
  model.dispose();
});
