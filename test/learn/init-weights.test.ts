import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainCnn } from '../../src/learn/train-cnn.js';
import { buildCnn } from '../../src/learn/models.js';
import { initFromModelFolder } from '../../src/learn/init-weights.js';
import { logProgress } from '../../src/learn/progress.js';
import type { TrainOptions } from '../../src/learn/options.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { measureParity } from '../../src/onnx/tfjs-export/parity.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { writeColourDataset } from './synthetic.js';

await tf.setBackend('cpu');

const deps = { logger: silentLogger(), preprocess: preprocessImage, progress: logProgress(silentLogger()), backend: 'cpu' };

function options(dir: string, cnn: Partial<TrainOptions['cnn']>, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    dataset: join(dir, 'data'), out: join(dir, 'model'), arch: 'cnn', epochs: 4, batchSize: 8, lr: 0.01, valSplit: 0.25, seed: 1,
    patience: 0, classWeights: true, weightDecay: 0, force: true, name: 'colours', version: '1',
    cnn: { inputSize: 8, filters: [4, 6], convsPerBlock: 2, dense: [8], dropout: 0.1, batchNorm: true, globalPool: false, resize: 'squash', ...cnn },
    transfer: { hidden: 0, dropout: 0, augmentCopies: 0, cacheDir: join(dir, 'cache') },
    ...extra,
  };
}

/** max |tfjs − ONNX Runtime| of `model` against the folder's model.onnx on random 0..1 images. */
async function differenceFrom(model: tf.LayersModel, modelBytes: Uint8Array, size: number, twoClass: boolean): Promise<number> {
  return measureParity(model, modelBytes, { inputName: 'input', outputNames: ['scores'], tfjsInputShape: [2, size, size, 3], layout: 'NHWC', twoClassFirstOutput: twoClass, samples: 3, range: [0, 1], seed: 7 });
}

for (const variant of [{ classes: 3, batchNorm: true, globalPool: false }, { classes: 2, batchNorm: false, globalPool: true }]) {
  test(`--init reads a trained CNN's weights back from its model.onnx (${variant.classes} classes, batch norm ${variant.batchNorm}, global pool ${variant.globalPool})`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgecam-init-'));
    try {
      const counts: Record<string, number> = variant.classes === 3 ? { red: 8, blue: 8, green: 8 } : { red: 8, blue: 8 };
      await writeColourDataset(join(dir, 'data'), counts, 8);
      const o = options(dir, { batchNorm: variant.batchNorm, globalPool: variant.globalPool });
      const { folder } = await trainCnn(deps, o);
      const labels = folder.manifest.labels;
      // A fresh network of the same architecture, other initial weights: different outputs until initialised.
      const fresh = buildCnn({ ...o.cnn, nClasses: variant.classes, seed: 99 });
      try {
        const before = await differenceFrom(fresh, folder.modelBytes, 8, variant.classes === 2);
        await initFromModelFolder(fresh, folder.dir, labels);
        const after = await differenceFrom(fresh, folder.modelBytes, 8, variant.classes === 2);
        assert.ok(before > 1e-3, `a fresh network already matched the trained one (${before})`);
        assert.ok(after <= 1e-5, `initialised network differs from the model by ${after}`);
      } finally {
        fresh.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('--init refuses another architecture or other classes, saying what to pass, and leaves the network as built', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-init-'));
  try {
    await writeColourDataset(join(dir, 'data'), { red: 6, blue: 6, green: 6 }, 8);
    const o = options(dir, {}, { epochs: 1 });
    const { folder } = await trainCnn(deps, o);
    const wider = buildCnn({ ...o.cnn, filters: [4, 8], nClasses: 3, seed: 3 });
    const shallower = buildCnn({ ...o.cnn, convsPerBlock: 1, nClasses: 3, seed: 3 });
    try {
      const kept = wider.getWeights().map((w) => w.dataSync().slice());
      await assert.rejects(initFromModelFolder(wider, folder.dir, folder.manifest.labels), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'TRAIN_INIT_ARCH');
        assert.match(err.message, /kernel is \[3, 3, 4, 8\], the model's .* is \[3, 3, 4, 6\]/);
        assert.match(err.message, /--filters/);
        return true;
      });
      wider.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), kept[i]));
      await assert.rejects(initFromModelFolder(shallower, folder.dir, folder.manifest.labels), { code: 'TRAIN_INIT_ARCH' });
      await assert.rejects(initFromModelFolder(shallower, folder.dir, ['cat', 'dog', 'none']), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'TRAIN_INIT_LABELS');
        assert.match(err.message, /blue, green, red.*cat, dog, none/);
        return true;
      });
    } finally {
      wider.dispose();
      shallower.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('train --init starts from the given model: with a learning rate of ~0 the first epoch scores what that model scores', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-init-'));
  try {
    await writeColourDataset(join(dir, 'data'), { red: 8, blue: 8, green: 8 }, 8);
    // No batch norm: its moving statistics change in training even when the weights do not.
    const first = await trainCnn(deps, options(dir, { batchNorm: false }, { out: join(dir, 'first'), epochs: 6 }));
    const scratch = await trainCnn(deps, options(dir, { batchNorm: false }, { out: join(dir, 'scratch'), epochs: 1, lr: 1e-9 }));
    const resumed = await trainCnn(deps, options(dir, { batchNorm: false, init: first.folder.dir }, { out: join(dir, 'resumed'), epochs: 1, lr: 1e-9 }));
    const bestOfFirst = first.summary.fit.history.find((h) => h.epoch === first.summary.fit.bestEpoch)!;
    assert.equal(resumed.summary.fit.history[0]!.valAcc, bestOfFirst.valAcc);
    const resumedLoss = resumed.summary.fit.history[0]!.valLoss!;
    assert.ok(Math.abs(resumedLoss - bestOfFirst.valLoss!) < 1e-4, `${resumedLoss} vs ${bestOfFirst.valLoss}`);
    assert.ok(Math.abs(scratch.summary.fit.history[0]!.valLoss! - bestOfFirst.valLoss!) > 1e-3, 'without --init the same run starts elsewhere');
    assert.equal((await loadModelFolder(resumed.folder.dir)).manifest.labels.join(), 'blue,green,red');
    assert.equal(resumed.summary.options.init, first.folder.dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
