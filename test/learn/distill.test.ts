import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createClassifier } from '../../src/inference/engine.js';
import { loadDatasetSplit } from '../../src/learn/dataset.js';
import { distilledViews, openViewTeacher, softTargets, teacherLabelMap } from '../../src/learn/distill.js';
import type { TrainOptions } from '../../src/learn/options.js';
import { logProgress } from '../../src/learn/progress.js';
import { fitModel } from '../../src/learn/train.js';
import { cnnPreprocessSpec, trainCnn } from '../../src/learn/train-cnn.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { writeColourDataset } from './synthetic.js';

await tf.setBackend('cpu');

const AUGMENT = { flip: true, rotation: 10, shift: 0.1, zoom: 0.1, shear: 0, brightness: 0.1, contrast: 0.1 };

function options(dir: string, out: string, distill?: TrainOptions['cnn']['distill']): TrainOptions {
  return {
    dataset: join(dir, 'data'), out, arch: 'cnn', epochs: 6, batchSize: 8, lr: 0.01, valSplit: 0.25, seed: 1,
    patience: 0, classWeights: true, weightDecay: 0, force: true, name: 'colours', version: '1', augment: AUGMENT,
    cnn: { inputSize: 8, filters: [4], convsPerBlock: 1, dense: [8], dropout: 0.1, batchNorm: false, resize: 'squash', ...(distill ? { distill } : {}) },
    transfer: { hidden: 0, dropout: 0, augmentCopies: 0, cacheDir: join(dir, 'cache') },
  };
}

const deps = () => ({ logger: silentLogger(), preprocess: preprocessImage, progress: logProgress(silentLogger()), backend: 'cpu' });

test('teacherLabelMap maps dataset classes to the teacher by name and refuses a class the teacher lacks', () => {
  assert.deepEqual(teacherLabelMap(['none', 'cat', 'dog', 'bird'], ['cat', 'dog', 'none'], 't'), [1, 2, 0]);
  assert.throws(() => teacherLabelMap(['cat', 'dog'], ['cat', 'dog', 'none'], 'pets2'), (e: Error & { code?: string }) => e.code === 'TRAIN_TEACHER_LABELS' && /"none"/.test(e.message) && /pets2/.test(e.message));
});

test('softTargets keeps the dataset classes in order and renormalises', () => {
  const q = softTargets([0.1, 0.5, 0.2, 0.2], [1, 2, 0]);
  assert.deepEqual(Array.from(q, (v) => Number(v.toFixed(4))), [0.625, 0.25, 0.125]);
  assert.deepEqual(Array.from(softTargets([0, 0, 1], [0, 1])), [0.5, 0.5]);
});

test('fitModel with soft targets learns the teacher, in proportion to the distill weight', async () => {
  // Every label says class 0 while the teacher says class 1: weight 1 must follow the teacher, weight 0 the labels.
  const n = 16;
  const x = new Float32Array(n * 4).map((_, i) => ((i * 7) % 5) / 5);
  const y = new Int32Array(n);
  const soft = new Float32Array(n * 2).map((_, i) => (i % 2 === 1 ? 0.95 : 0.05));
  const predictions: number[] = [];
  for (const weight of [0, 1]) {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: 'softmax', kernelInitializer: tf.initializers.zeros() })] });
    await fitModel(model, { x, sampleDims: [4], y, soft }, undefined, { epochs: 30, batchSize: 8, lr: 0.05, patience: 0, seed: 1, nClasses: 2, activation: 'softmax', distillWeight: weight });
    const p = tf.tidy(() => (model.predict(tf.tensor2d(x, [n, 4])) as tf.Tensor).mean(0).arraySync() as number[]);
    predictions.push(p[1]!);
    model.dispose();
  }
  assert.ok(predictions[0]! < 0.2, `labels only: P(class 1) = ${predictions[0]}`);
  assert.ok(predictions[1]! > 0.8, `teacher only: P(class 1) = ${predictions[1]}`);
});

test('fitModel resample: epochs after the first train on the samples it returns', async () => {
  const data = (label: number) => ({ x: new Float32Array(8 * 2).fill(1), sampleDims: [2], y: new Int32Array(8).fill(label) });
  const asked: number[] = [];
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: 'softmax' })] });
  // Epoch 1 says class 0, every later epoch class 1: a model that followed resample ends on class 1.
  await fitModel(model, data(0), undefined, { epochs: 40, batchSize: 8, lr: 0.1, patience: 0, seed: 1, nClasses: 2, activation: 'softmax', resample: async (epoch) => { asked.push(epoch); return data(1); } });
  assert.deepEqual(asked, Array.from({ length: 39 }, (_, i) => i + 2));
  const p = tf.tidy(() => (model.predict(tf.ones([1, 2])) as tf.Tensor).dataSync()[1]!);
  assert.ok(p > 0.9, `P(class 1) = ${p}`);
  model.dispose();
});

test('distilledViews: the teacher labels exactly the pixels of each student view, the first view is the photo itself', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-distill-'));
  try {
    await writeColourDataset(join(dir, 'data'), { red: 6, blue: 6, green: 6 }, 12);
    // A teacher with the student's own input spec, so each student view can be fed to it directly and compared.
    const { folder } = await trainCnn(deps(), options(dir, join(dir, 'teacher')));
    const split = await loadDatasetSplit(join(dir, 'data'), { valSplit: 0.25, seed: 1 });
    const spec = cnnPreprocessSpec(options(dir, '').cnn);
    const files = split.train.slice(0, 4);
    const set = await distilledViews({ logger: silentLogger(), preprocess: preprocessImage }, files, split.labels, spec, { teacher: folder.dir, views: 3, weight: 0.5, augment: AUGMENT, seed: 3 });
    assert.equal(set.y.length, 12);
    assert.deepEqual(Array.from(set.y), files.flatMap((f) => [f.label, f.label, f.label]));
    assert.deepEqual(set.sampleDims, [8, 8, 3]);
    assert.equal(set.teacher.name, 'colours');
    const size = 8 * 8 * 3;
    const plain = await preprocessImage(await readFile(files[0]!.path), spec);
    assert.deepEqual(set.x.subarray(0, size), plain.data, 'view 0 is the unaugmented photo');
    assert.notDeepEqual(set.x.subarray(size, 2 * size), plain.data, 'view 1 is augmented');
    // Mixup: every augmented view blended with another photo; the teacher must still label the blended pixels.
    const mixed = await distilledViews({ logger: silentLogger(), preprocess: preprocessImage }, files, split.labels, spec, { teacher: folder.dir, views: 3, weight: 0.5, augment: AUGMENT, seed: 3, mixup: 1 });
    assert.deepEqual(mixed.x.subarray(0, size), plain.data, 'the plain view is never blended');
    assert.notDeepEqual(mixed.x.subarray(size, 3 * size), set.x.subarray(size, 3 * size), 'same draws, blended pixels');
    const teacher = await createClassifier({ logger: silentLogger() }, { folder: await loadModelFolder(folder.dir), providers: ['cpu'] });
    try {
      for (const s of [set, mixed]) {
        for (let v = 0; v < 12; v++) {
          const out = await teacher.classify({ data: s.x.slice(v * size, (v + 1) * size), dims: [1, 8, 8, 3] });
          const want = softTargets(out.scores.probabilities, out.scores.labels.map((_, i) => i));
          for (let c = 0; c < 3; c++) assert.ok(Math.abs(s.soft[v * 3 + c]! - want[c]!) < 1e-5, `view ${v} class ${c}: ${s.soft[v * 3 + c]} vs ${want[c]}`);
        }
      }
    } finally {
      await teacher.dispose();
    }
    const viewTeacher = await openViewTeacher({ logger: silentLogger(), preprocess: preprocessImage }, files, split.labels, spec, { teacher: folder.dir, views: 2, weight: 0.5, augment: AUGMENT, seed: 3 });
    try {
      const [a, b] = [await viewTeacher.sample(2, false), await viewTeacher.sample(2, false)];
      assert.deepEqual(Array.from(a.y), Array.from(b.y));
      assert.notDeepEqual(a.x, b.x, 'each epoch draws fresh views');
      assert.notDeepEqual(a.x.subarray(0, size), plain.data, 'without the plain view every view is augmented');
    } finally {
      await viewTeacher.close();
    }
    await assert.rejects(distilledViews({ logger: silentLogger(), preprocess: preprocessImage }, files, split.labels, spec, { teacher: folder.dir, views: 0, weight: 0.5, seed: 1 }), /teacher-views/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('train --arch cnn --teacher: a distilled CNN is written with the teacher recorded in metrics.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-distill-'));
  try {
    await writeColourDataset(join(dir, 'data'), { red: 8, blue: 8, green: 8 }, 12);
    const teacher = await trainCnn(deps(), options(dir, join(dir, 'teacher')));
    // A truncated photo in the training folders: reported and skipped by the teacher's loader too, not fatal.
    await writeFile(join(dir, 'data', 'blue', 'blue_broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01]));
    const { folder, summary } = await trainCnn(deps(), options(dir, join(dir, 'student'), { teacher: teacher.folder.dir, views: 4, weight: 0.7 }));
    const trainPhotos = Object.values(summary.dataset.train).reduce((a, b) => a + b, 0);
    const broken = summary.dataset.skipped.filter((k) => k.path.endsWith('blue_broken.jpg')).length;
    const brokenInTrain = (await loadDatasetSplit(join(dir, 'data'), { valSplit: 0.25, seed: 1 })).train.some((f) => f.path.endsWith('blue_broken.jpg'));
    assert.equal(broken, 1, 'the broken photo is listed as skipped');
    assert.equal(summary.distillation!.views, (trainPhotos - (brokenInTrain ? 1 : 0)) * 4);
    assert.ok(summary.distillation!.teacherAgreement > 0.8, `teacher agreement ${summary.distillation!.teacherAgreement}`);
    assert.ok(summary.val!.accuracy >= 0.8, `student val accuracy ${summary.val!.accuracy}`);
    const metrics = JSON.parse(await readFile(join(folder.dir, 'metrics.json'), 'utf8')) as { distillation: { teacher: { name: string } }; history: { imagesPerSecond: number }[] };
    assert.equal(metrics.distillation.teacher.name, 'colours');
    await assert.rejects(trainCnn(deps(), options(dir, join(dir, 'bad'), { teacher: join(dir, 'no-such-teacher'), views: 2, weight: 0.5 })), (e: Error) => e.message.includes('no-such-teacher'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
