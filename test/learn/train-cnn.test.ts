import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { trainCnn } from '../../src/learn/train-cnn.js';
import { evaluateModel } from '../../src/learn/evaluate.js';
import { logProgress } from '../../src/learn/progress.js';
import type { TrainOptions } from '../../src/learn/options.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { writeColourDataset } from './synthetic.js';

await tf.setBackend('cpu');

function options(dir: string, classes: number): TrainOptions {
  return {
    dataset: join(dir, 'data'), out: join(dir, 'model'), arch: 'cnn', epochs: 6, batchSize: 8, lr: 0.01, valSplit: 0.25, seed: 1,
    patience: 0, classWeights: true, weightDecay: 0, force: true, name: `colours${classes}`, version: '1', command: 'edgecam train data --out model',
    augment: { flip: true, rotation: 5, shift: 0, zoom: 0, shear: 0, brightness: 0.05, contrast: 0 },
    // Two classes: global average pooling instead of Flatten; three: batch norm. Both through export and ONNX evaluation.
    cnn: { inputSize: 8, filters: [4], convsPerBlock: 1, dense: [8], dropout: 0.1, batchNorm: classes === 3, globalPool: classes === 2, resize: 'squash' },
    transfer: { hidden: 0, dropout: 0, augmentCopies: 0, cacheDir: join(dir, 'cache') },
  };
}

for (const classes of [2, 3]) {
  test(`train --arch cnn (${classes} classes) writes a model folder the ONNX evaluator agrees with, plus metrics and charts`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgecam-cnn-'));
    try {
      const counts: Record<string, number> = classes === 2 ? { red: 12, blue: 12 } : { red: 10, blue: 10, green: 10 };
      await writeColourDataset(join(dir, 'data'), counts, 12);
      await writeFile(join(dir, 'data', 'red', 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01]));
      const deps = { logger: silentLogger(), preprocess: preprocessImage, progress: logProgress(silentLogger()), backend: 'cpu' };
      const { folder, summary } = await trainCnn(deps, options(dir, classes));
      assert.deepEqual(summary.dataset.skipped.map((s) => s.path), [join(dir, 'data', 'red', 'broken.jpg')]);
      const m = (await loadModelFolder(folder.dir)).manifest;
      assert.equal(m.output.kind, classes === 2 ? 'probabilities' : 'softmax');
      assert.deepEqual(m.input.shape, [-1, 8, 8, 3]);
      assert.equal(m.input.layout, 'NHWC');
      assert.equal(m.provenance.command, 'edgecam train data --out model');
      assert.ok(summary.exportParityMaxAbsDiff! <= 1e-4);
      assert.ok(summary.val!.accuracy >= 0.8, `val accuracy ${summary.val!.accuracy}`);

      const metrics = JSON.parse(await readFile(join(folder.dir, 'metrics.json'), 'utf8')) as { history: unknown[]; validation: { accuracy: number; confusion: number[][] } };
      assert.equal(metrics.history.length, 6);
      const evaluated = await evaluateModel({ logger: silentLogger(), preprocess: preprocessImage }, { modelDir: folder.dir, dataset: join(dir, 'data'), providers: ['cpu'] });
      assert.equal(evaluated.report.n, Object.values(counts).reduce((a, b) => a + b, 0));
      assert.ok(evaluated.report.accuracy >= 0.8, `ONNX accuracy on all images ${evaluated.report.accuracy}`);
      for (const png of ['curves.png', 'confusion.png']) {
        const meta = await sharp(await readFile(join(folder.dir, png))).metadata();
        assert.equal(meta.format, 'png');
        assert.ok(meta.width! > 300 && meta.height! > 150, `${png} is ${meta.width}x${meta.height}`);
        const { channels } = await sharp(await readFile(join(folder.dir, png))).stats();
        assert.ok(channels[0]!.min < 100, `${png} has dark pixels (text and lines were drawn)`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
