import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createClassifier } from '../../src/inference/engine.js';
import { loadDatasetSplit } from '../../src/learn/dataset.js';
import { openViewTeacher } from '../../src/learn/distill.js';
import { composeTransferModel } from '../../src/learn/head-file.js';
import type { DenseLayerWeights } from '../../src/learn/models.js';
import { buildCnn, withFeatureProbe } from '../../src/learn/models.js';
import type { TrainOptions } from '../../src/learn/options.js';
import { logProgress } from '../../src/learn/progress.js';
import { fitStandardizer, standardize } from '../../src/learn/standardize.js';
import { fitModel } from '../../src/learn/train.js';
import { cnnPreprocessSpec, trainCnn } from '../../src/learn/train-cnn.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder, sha256Hex, validateManifest, writeModelFolder } from '../../src/models/folder.js';
import { preprocessSpecOf } from '../../src/models/manifest.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { describeOnnx, parseOnnx } from '../../src/onnx/proto.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { writeColourDataset } from './synthetic.js';

// Feature matching (--distill-features): the CNN also learns to predict the teacher's embedding of each view.

await tf.setBackend('cpu');

const LABELS = ['red', 'blue', 'green'];

/** A real transfer model with an `embedding` output (tiny conv backbone + a head that reads colour from it). */
async function transferTeacher(dir: string): Promise<string> {
  const tiny = tinyImagenetLikeOnnx({ inputSize: 16, embeddingSize: 8, seed: 3 });
  const prepared = await prepareBackbone(tiny.bytes, { name: 'tiny-backbone', created: '2024-01-01T00:00:00.000Z', preset: 'keras', resize: 'squash' });
  const backbone = { dir: join(dir, 'backbone'), modelBytes: prepared.modelBytes, manifest: validateManifest({ ...prepared.manifest, sha256: sha256Hex(prepared.modelBytes) }) };
  const weights = Float32Array.from({ length: 8 * 3 }, (_, i) => Math.sin(i * 1.7));
  const layers: DenseLayerWeights[] = [{ inDim: 8, outDim: 3, activation: 'softmax', weights, bias: new Float32Array(3) }];
  const composed = composeTransferModel(backbone, layers, { labels: LABELS, name: 'colour-teacher', version: '1', created: '2024-01-01T00:00:00.000Z' });
  const out = join(dir, 'teacher');
  await writeModelFolder(out, { modelBytes: composed.modelBytes, manifest: composed.manifest });
  return out;
}

function options(dir: string, out: string, distill?: TrainOptions['cnn']['distill']): TrainOptions {
  return {
    dataset: join(dir, 'data'), out, arch: 'cnn', epochs: 6, batchSize: 8, lr: 0.01, valSplit: 0.25, seed: 1,
    patience: 0, classWeights: true, weightDecay: 0, force: true, name: 'student', version: '1',
    augment: { flip: true, rotation: 10, shift: 0.1, zoom: 0.1, shear: 0, brightness: 0.1, contrast: 0.1 },
    cnn: { inputSize: 8, filters: [4], convsPerBlock: 1, dense: [8], dropout: 0.1, batchNorm: false, globalPool: true, resize: 'squash', ...(distill ? { distill } : {}) },
    transfer: { hidden: 0, dropout: 0, augmentCopies: 0, cacheDir: join(dir, 'cache') },
  };
}

test('feature targets are the teacher embeddings of each view, standardised once with the first sample\'s scale', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-features-'));
  try {
    await writeColourDataset(join(dir, 'data'), { red: 4, blue: 4, green: 4 }, 12);
    const teacherDir = await transferTeacher(dir);
    const split = await loadDatasetSplit(join(dir, 'data'), { valSplit: 0.25, seed: 1 });
    const spec = cnnPreprocessSpec(options(dir, '').cnn);
    // No augmentation: every view is the photo itself, so the expected embeddings come from the teacher directly.
    const viewTeacher = await openViewTeacher({ logger: silentLogger(), preprocess: preprocessImage }, split.train, split.labels, spec, { teacher: teacherDir, views: 1, weight: 0.5, features: 1, seed: 2 });
    const teacher = await createClassifier({ logger: silentLogger() }, { folder: await loadModelFolder(teacherDir), providers: ['cpu'] });
    try {
      assert.equal(viewTeacher.featureSize, 8);
      const first = await viewTeacher.sample(1, true);
      const raw = new Float32Array(split.train.length * 8);
      for (const [i, file] of split.train.entries()) {
        const input = await preprocessImage(await readFile(file.path), preprocessSpecOf(teacher.manifest));
        raw.set((await teacher.classify(input)).embedding!, i * 8);
      }
      const want = standardize(raw, fitStandardizer(raw, 8));
      assert.equal(first.features!.length, want.length);
      first.features!.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `value ${i}: ${v} vs ${want[i]}`));
      // A later sample keeps the first scale (here the same photos, so the same numbers), not a refit of its own.
      const again = await viewTeacher.sample(1, true);
      assert.deepEqual(again.features, first.features);
    } finally {
      await teacher.dispose();
      await viewTeacher.close();
    }
    // A teacher without an embedding output cannot teach features: a clear error that says what to use.
    const plainTeacher = await trainCnn({ logger: silentLogger(), preprocess: preprocessImage, progress: logProgress(silentLogger()), backend: 'cpu' }, options(dir, join(dir, 'plain')));
    await assert.rejects(
      openViewTeacher({ logger: silentLogger(), preprocess: preprocessImage }, split.train, split.labels, spec, { teacher: plainTeacher.folder.dir, views: 1, weight: 0.5, features: 1, seed: 2 }),
      (e: Error & { code?: string }) => e.code === 'TRAIN_TEACHER_FEATURES' && /embedding/.test(e.message) && /--distill-features/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fitModel with a feature probe trains the shared layers towards the targets, in proportion to the weight', async () => {
  const n = 32;
  const size = 6;
  const x = Float32Array.from({ length: n * size * size * 3 }, (_, i) => Math.abs(Math.sin(i * 0.37)));
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  // Targets that depend on the image (mean brightness of each channel, centred), so the probe can learn them.
  const features = new Float32Array(n * 3);
  for (let s = 0; s < n; s++) for (let p = 0; p < size * size; p++) for (let c = 0; c < 3; c++) features[s * 3 + c]! += (x[(s * size * size + p) * 3 + c]! - 0.6) * 4 / (size * size);
  const errors: number[] = [];
  for (const weight of [0, 5]) {
    const cnn = buildCnn({ inputSize: size, filters: [4], convsPerBlock: 1, dense: [], dropout: 0, batchNorm: false, globalPool: true, nClasses: 2, seed: 4 }, 'softmax');
    const probe = withFeatureProbe(cnn, 3, 5);
    await fitModel(cnn, { x, sampleDims: [size, size, 3], y, features }, undefined, { epochs: 40, batchSize: 8, lr: 0.02, patience: 0, seed: 1, nClasses: 2, activation: 'softmax', featureProbe: { model: probe, weight } });
    errors.push(tf.tidy(() => {
      const [, predicted] = probe.predict(tf.tensor4d(x, [n, size, size, 3])) as tf.Tensor[];
      return predicted!.sub(tf.tensor2d(features, [n, 3])).square().mean().dataSync()[0]!;
    }));
    probe.getLayer('feature_probe').dispose();
    cnn.dispose();
  }
  assert.ok(errors[1]! < errors[0]! / 3, `probe error with weight 5: ${errors[1]}, with weight 0: ${errors[0]}`);
});

test('train --distill-features: the student is trained with the probe, metrics record the weight, the export has no probe', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-features-'));
  try {
    await writeColourDataset(join(dir, 'data'), { red: 8, blue: 8, green: 8 }, 12);
    const teacherDir = await transferTeacher(dir);
    const deps = { logger: silentLogger(), preprocess: preprocessImage, progress: logProgress(silentLogger()), backend: 'cpu' };
    const { folder, summary } = await trainCnn(deps, options(dir, join(dir, 'student'), { teacher: teacherDir, views: 2, weight: 0, features: 1 }));
    assert.equal(summary.distillation!.features, 1);
    assert.ok(summary.val!.accuracy >= 0.8, `student val accuracy ${summary.val!.accuracy}`);
    const info = describeOnnx(parseOnnx(await readFile(join(folder.dir, 'model.onnx'))));
    assert.deepEqual(info.outputs.map((o) => o.name), ['scores']);
    assert.deepEqual(folder.manifest.labels, [...LABELS].sort());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
