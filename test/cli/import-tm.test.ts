import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { preprocessSpecOf } from '../../src/models/manifest.js';
import { createClassifier } from '../../src/inference/engine.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { saveLayersModelToDir } from '../../src/onnx/tfjs-export.js';
import { importTeachableMachine } from '../../src/onnx/tfjs-export/teachable-machine.js';
import { maxDiff, randomizeWeights, useCpuBackend } from '../onnx/tfjs-export-helpers.js';

/**
 * `edgecam import-tm` on a synthetic Teachable Machine export built here: TM's image model is a
 * Sequential of [Sequential[truncated MobileNet (functional), GlobalAveragePooling2D], Sequential
 * head [Dense relu, Dense softmax without bias]], saved as model.json + weights.bin + metadata.json.
 */

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const L = tf.layers;
const LABELS = ['Door open', 'Door closed', 'Nobody'];
let work: string;
let tmDir: string;
let model: tf.LayersModel;

function tmLikeModel(): tf.LayersModel {
  const input = tf.input({ shape: [224, 224, 3], name: 'input_1' });
  let x = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'Conv1' }).apply(input) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'bn_Conv1' }).apply(x) as tf.SymbolicTensor;
  x = L.reLU({ maxValue: 6, name: 'Conv1_relu' }).apply(x) as tf.SymbolicTensor;
  x = L.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'block_1_depthwise' }).apply(x) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'block_1_depthwise_BN' }).apply(x) as tf.SymbolicTensor;
  x = L.reLU({ maxValue: 6, name: 'block_1_depthwise_relu' }).apply(x) as tf.SymbolicTensor;
  x = L.conv2d({ filters: 12, kernelSize: 1, useBias: false, name: 'block_1_project' }).apply(x) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'block_1_project_BN' }).apply(x) as tf.SymbolicTensor;
  x = L.reLU({ maxValue: 6, name: 'out_relu' }).apply(x) as tf.SymbolicTensor;
  const truncated = tf.model({ inputs: input, outputs: x });
  const base = tf.sequential();
  base.add(truncated);
  base.add(L.globalAveragePooling2d({}));
  const head = tf.sequential({ layers: [
    L.dense({ inputShape: [12], units: 100, activation: 'relu', useBias: true }),
    L.dense({ units: LABELS.length, activation: 'softmax', useBias: false }),
  ] });
  const full = tf.sequential();
  full.add(base);
  full.add(head);
  randomizeWeights(full, 21);
  return full;
}

async function writeTmExport(dir: string, m: tf.LayersModel, labels: string[]): Promise<void> {
  await saveLayersModelToDir(m, dir, tf);
  // Fields as @teachablemachine/image writes them.
  await writeFile(join(dir, 'metadata.json'), JSON.stringify({
    tfjsVersion: tf.version.tfjs, tmVersion: '2.4.7', packageVersion: '0.8.4', packageName: '@teachablemachine/image',
    timeStamp: '2024-05-01T10:20:30.000Z', userMetadata: {}, modelName: 'tm-my-image-model', labels, imageSize: 224,
  }));
}

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 120_000, env: { ...process.env, EDGECAM_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  await useCpuBackend();
  work = await mkdtemp(join(tmpdir(), 'edgecam-import-tm-'));
  tmDir = join(work, 'tm-export');
  model = tmLikeModel();
  await writeTmExport(tmDir, model, LABELS);
});
after(async () => { await rm(work, { recursive: true, force: true }); });

test('import-tm writes a folder with TM preprocessing whose ONNX scores equal tfjs on a real image', async () => {
  const out = join(work, 'imported');
  const { export: r } = await importTeachableMachine({ dir: tmDir, outDir: out });
  assert.ok(r.parityMaxAbsDiff <= 1e-4, `parity ${r.parityMaxAbsDiff}`);
  const folder = await loadModelFolder(out);
  const m = folder.manifest;
  assert.deepEqual(m.labels, LABELS);
  assert.equal(m.name, 'tm-my-image-model');
  assert.equal(m.version, '20240501T102030Z');
  assert.deepEqual(m.input.shape, [-1, 224, 224, 3]);
  assert.equal(m.input.layout, 'NHWC');
  assert.deepEqual({ resize: m.preprocess.resize, size: m.preprocess.size, mean: m.preprocess.mean, std: m.preprocess.std }, { resize: 'cover', size: [224, 224], mean: [1, 1, 1], std: [1, 1, 1] });
  assert.ok(Math.abs(m.preprocess.scale - 1 / 127.5) < 1e-12);
  assert.equal(m.output.kind, 'probabilities');
  assert.match(m.provenance.source ?? '', /teachable-machine @teachablemachine\/image@0\.8\.4/);
  assert.deepEqual(JSON.parse(await readFile(join(out, 'tm-metadata.json'), 'utf8')).labels, LABELS);

  // A 320×240 photo: red and blue side bands, green centre square. TM's centre square crop keeps only green.
  const raw = Buffer.alloc(320 * 240 * 3);
  for (let y = 0; y < 240; y++) for (let x = 0; x < 320; x++) {
    const rgb = x < 40 ? [255, 0, 0] : x >= 280 ? [0, 0, 255] : [0, 200, 0];
    raw.set(rgb, (y * 320 + x) * 3);
  }
  const png = await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).png().toBuffer();
  const tensor = await preprocessImage(png, preprocessSpecOf(m));
  assert.deepEqual(tensor.dims, [1, 224, 224, 3]);
  for (let y = 3; y < 221; y += 7) for (let x = 3; x < 221; x += 7) {
    const i = (y * 224 + x) * 3;
    assert.ok(maxDiff(tensor.data.subarray(i, i + 3), [-1, 200 / 127.5 - 1, -1]) < 1e-6, `pixel ${x},${y} is not the green centre`);
  }
  const classifier = await createClassifier({ logger: silentLogger() }, { folder, providers: ['cpu'] });
  try {
    const { scores } = await classifier.classify(tensor);
    const want = tf.tidy(() => Array.from((model.predict(tf.tensor(tensor.data, tensor.dims)) as tf.Tensor).dataSync()));
    assert.deepEqual(scores.labels, LABELS);
    assert.ok(maxDiff(scores.probabilities, want) <= 1e-4, `ORT ${scores.probabilities} vs tfjs ${want}`);
  } finally {
    await classifier.dispose();
  }
});

test('edgecam import-tm prints the parity figure, and refuses to overwrite without --force', async () => {
  const out = join(work, 'cli-out');
  const first = await runCli(['import-tm', tmDir, '--out', out]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /parity: max \|ONNX Runtime − tfjs\| = \d\.\d\de-\d+/);
  assert.match(first.stdout, /3 labels \(Door open, Door closed, Nobody\)/);
  assert.deepEqual((await loadModelFolder(out)).manifest.labels, LABELS);
  const again = await runCli(['import-tm', tmDir, '--out', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /MODEL_FOLDER_EXISTS/);
  const forced = await runCli(['import-tm', tmDir, '--out', out, '--force', '--name', 'front-door']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((await loadModelFolder(out)).manifest.name, 'front-door');
});

test('exports without metadata.json, with a label count that does not match, or grayscale are refused clearly', async () => {
  const noMeta = join(work, 'no-meta');
  await saveLayersModelToDir(model, noMeta, tf);
  await assert.rejects(importTeachableMachine({ dir: noMeta, outDir: join(work, 'x1') }), (e: unknown) => e instanceof ModelError && e.code === 'TM_METADATA_MISSING');
  const twoLabels = join(work, 'two-labels');
  await writeTmExport(twoLabels, model, ['a', 'b']);
  await assert.rejects(importTeachableMachine({ dir: twoLabels, outDir: join(work, 'x2') }), (e: unknown) => e instanceof ModelError && e.code === 'EXPORT_LABEL_COUNT');
  const gray = join(work, 'gray');
  await writeTmExport(gray, model, LABELS);
  const meta = JSON.parse(await readFile(join(gray, 'metadata.json'), 'utf8'));
  await writeFile(join(gray, 'metadata.json'), JSON.stringify({ ...meta, grayscale: true }));
  await assert.rejects(importTeachableMachine({ dir: gray, outDir: join(work, 'x3') }), (e: unknown) => e instanceof ModelError && e.code === 'TM_GRAYSCALE');
});
