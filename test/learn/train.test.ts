import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { colourTensors as colourData } from './synthetic.js';
import { buildCnn, buildHead } from '../../src/learn/models.js';
import { evaluateSet, fitModel, learningRateAt, type TrainData } from '../../src/learn/train.js';
import { DEFAULT_AUGMENT, augmentBatch, parseAugment, randomAffineRow } from '../../src/learn/augment.js';
import { createRng } from '../../src/learn/random.js';

await tf.setBackend('cpu');

test('training a small CNN reduces the loss and learns red vs blue (sigmoid and softmax outputs)', async () => {
  for (const activation of ['sigmoid', 'softmax'] as const) {
    const model = buildCnn({ inputSize: 8, filters: [4], convsPerBlock: 1, dense: [8], dropout: 0.1, batchNorm: false, nClasses: 2, seed: 5 }, activation);
    const train = colourData(48, 1);
    const val = colourData(16, 2);
    const before = evaluateSet(model, train, { batchSize: 16, nClasses: 2, activation });
    const r = await fitModel(model, train, val, { epochs: 8, batchSize: 8, lr: 0.01, patience: 0, seed: 1, nClasses: 2, activation });
    assert.equal(r.history.length, 8);
    const after = evaluateSet(model, train, { batchSize: 16, nClasses: 2, activation });
    assert.ok(after.loss < before.loss * 0.5, `${activation}: loss ${before.loss} → ${after.loss}`);
    assert.ok(r.history.at(-1)!.loss < r.history[0]!.loss);
    assert.ok((r.history.at(-1)!.valAcc ?? 0) >= 0.9, `val accuracy ${r.history.at(-1)!.valAcc}`);
    model.dispose();
  }
});

test('early stopping stops after `patience` epochs without improvement and restores the best epoch', async () => {
  // Validation labels are the opposite of training labels: the better the model fits, the worse the
  // validation loss, so the best epoch is an early one and training must stop `patience` epochs later.
  const train = colourData(32, 3);
  const valSource = colourData(16, 4);
  const val = { ...valSource, y: valSource.y.map((v) => 1 - v) };
  const model = buildCnn({ inputSize: 8, filters: [4], convsPerBlock: 1, dense: [], dropout: 0, batchNorm: false, nClasses: 2, seed: 9 }, 'softmax');
  const r = await fitModel(model, train, val, { epochs: 30, batchSize: 8, lr: 0.02, patience: 3, seed: 2, nClasses: 2, activation: 'softmax' });
  const valLosses = r.history.map((h) => h.valLoss!);
  const bestIdx = valLosses.indexOf(Math.min(...valLosses));
  assert.equal(r.bestEpoch, bestIdx + 1);
  assert.ok(r.stoppedEarly);
  assert.equal(r.history.length, r.bestEpoch + 3);
  const now = evaluateSet(model, val, { batchSize: 8, nClasses: 2, activation: 'softmax' });
  assert.ok(Math.abs(now.loss - valLosses[bestIdx]!) < 1e-5, `restored val loss ${now.loss} vs best ${valLosses[bestIdx]}`);
  assert.ok(now.loss < valLosses.at(-1)!, 'the last epoch was worse than the restored one');
  model.dispose();
});

test('a cosine schedule lowers the learning rate each epoch and the optimizer really uses it', async () => {
  const o = { lr: 0.01, lrSchedule: 'cosine' as const, epochs: 4 };
  assert.deepEqual([1, 2, 3, 4].map((e) => Number(learningRateAt(o, e).toFixed(6))), [0.01, 0.008536, 0.005, 0.001464]);
  assert.equal(learningRateAt({ ...o, lrSchedule: 'constant' }, 3), 0.01);
  // Same data, seed and first epoch; a cosine run moves the weights less in its later epochs than a constant one.
  const moved = async (lrSchedule: 'constant' | 'cosine') => {
    const model = buildCnn({ inputSize: 8, filters: [4], convsPerBlock: 1, dense: [], dropout: 0, batchNorm: false, nClasses: 2, seed: 3 }, 'softmax');
    const r = await fitModel(model, colourData(32, 5), undefined, { epochs: 4, batchSize: 8, lr: 0.05, lrSchedule, patience: 0, seed: 1, nClasses: 2, activation: 'softmax' });
    const w = model.getWeights().map((t) => t.dataSync().slice());
    model.dispose();
    return { lrs: r.history.map((h) => h.lr), w };
  };
  const [constant, cosine] = [await moved('constant'), await moved('cosine')];
  assert.deepEqual(constant.lrs, [0.05, 0.05, 0.05, 0.05]);
  assert.deepEqual(cosine.lrs.map((v) => Number(v.toFixed(6))), [0.05, 0.042678, 0.025, 0.007322]);
  const differs = constant.w.some((a, i) => a.some((v, j) => Math.abs(v - cosine.w[i]![j]!) > 1e-6));
  assert.ok(differs, 'the schedule changed nothing in the trained weights');
});

test('class weights change what the loss rewards', async () => {
  // Same data, 3:1 unbalanced; with balanced weights the minority class gets the same total say.
  const data = colourData(40, 6);
  const keep = Array.from(data.y.keys()).filter((i) => data.y[i] === 0 || i % 6 === 1);
  const x = new Float32Array(keep.length * 192);
  keep.forEach((k, j) => x.set(data.x.subarray(k * 192, (k + 1) * 192), j * 192));
  const unbalanced = { x, sampleDims: [8, 8, 3], y: Int32Array.from(keep.map((k) => data.y[k]!)) };
  const weights = [1, 1000];
  const m1 = buildHead({ embeddingSize: 192, hidden: 0, dropout: 0, nClasses: 2, seed: 1 });
  const m2 = buildHead({ embeddingSize: 192, hidden: 0, dropout: 0, nClasses: 2, seed: 1 });
  const flat = { ...unbalanced, sampleDims: [192] };
  const a = await fitModel(m1, flat, undefined, { epochs: 1, batchSize: 64, lr: 0.001, patience: 0, seed: 1, nClasses: 2, activation: 'softmax' });
  const b = await fitModel(m2, flat, undefined, { epochs: 1, batchSize: 64, lr: 0.001, patience: 0, seed: 1, nClasses: 2, activation: 'softmax', classWeights: weights });
  assert.notEqual(a.history[0]!.loss, b.history[0]!.loss);
  assert.ok(b.history[0]!.loss > a.history[0]!.loss * 10, 'minority-class errors weigh 1000× more');
  m1.dispose(); m2.dispose();
});

test('augmentation keeps shapes, changes pixels, and an identity affine maps pixels to themselves', () => {
  const rng = createRng(1);
  const row = randomAffineRow(rng, { flip: false, rotation: 0, shift: 0, zoom: 0, shear: 0, brightness: 0, contrast: 0 }, 8, 8);
  assert.deepEqual(row.map((v) => Math.round(v * 1e6) / 1e6 + 0), [1, 0, 0, 0, 1, 0, 0, 0]);
  const x = tf.tensor4d(colourData(4, 1).x, [4, 8, 8, 3]);
  const out = augmentBatch(x, DEFAULT_AUGMENT, { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] }, rng);
  assert.deepEqual(out.shape, [4, 8, 8, 3]);
  assert.ok(tf.sub(out, x).abs().max().dataSync()[0]! > 0.01);
  const flipped = augmentBatch(x, { ...DEFAULT_AUGMENT, flip: true, rotation: 0, shift: 0, zoom: 0, shear: 0, brightness: 0, contrast: 0 }, { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] }, createRng(2));
  for (let i = 0; i < 4; i++) {
    const img = x.slice([i, 0, 0, 0], [1, 8, 8, 3]);
    const got = flipped.slice([i, 0, 0, 0], [1, 8, 8, 3]);
    const dSame = got.sub(img).abs().max().dataSync()[0]!;
    const dMirror = got.sub(img.reverse(2)).abs().max().dataSync()[0]!;
    assert.ok(Math.min(dSame, dMirror) < 1e-4, `image ${i} is either untouched or mirrored (${dSame}, ${dMirror})`);
  }
  tf.dispose([x, out, flipped]);
  assert.deepEqual(parseAugment('flip,rotation=20'), { flip: true, rotation: 20, shift: 0, zoom: 0, shear: 0, brightness: 0, contrast: 0 });
  assert.equal(parseAugment('none'), undefined);
  assert.throws(() => parseAugment('wobble=2'), /Unknown augmentation/);
});

test('batch norm moving statistics catch up within a few dozen batches (an epoch of a small dataset)', () => {
  // 30 training-mode passes over one batch whose conv outputs have a clear non-zero mean: the inference-mode
  // statistics must be near the batch's own by then, or a CNN evaluated after a short epoch sees the wrong scale.
  const model = buildCnn({ inputSize: 8, filters: [4], convsPerBlock: 1, dense: [], dropout: 0, batchNorm: true, globalPool: true, nClasses: 3, seed: 2 }, 'softmax');
  const x = tf.add(tf.randomUniform([16, 8, 8, 3], 0, 1, 'float32', 3), 2);
  const conv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
  const bn = model.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  const batchMean = tf.tidy(() => (conv.apply(x) as tf.Tensor).mean([0, 1, 2]).dataSync() as Float32Array);
  for (let i = 0; i < 30; i++) tf.tidy(() => { model.apply(x, { training: true }); });
  const movingMean = bn.getWeights()[2]!.dataSync();
  batchMean.forEach((m, c) => assert.ok(Math.abs(movingMean[c]! - m) <= 0.1 * Math.max(Math.abs(m), 0.1), `channel ${c}: moving mean ${movingMean[c]} vs batch mean ${m}`));
  x.dispose();
  model.dispose();
});
