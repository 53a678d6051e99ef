import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadModelFolder } from '../../src/models/folder.js';
import { saveLayersModelToDir } from '../../src/onnx/tfjs-export.js';
import { maxDiff, seededInput, seq, useCpuBackend } from './tfjs-export-helpers.js';
import { runOnnx } from './run-ort.js';

/** `edgecam export` as a user runs it: a subprocess on a tfjs folder saved here. */

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const L = tf.layers;
let work: string;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 120_000, env: { ...process.env, EDGECAM_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  await useCpuBackend();
  work = await mkdtemp(join(tmpdir(), 'edgecam-export-cli-'));
});
after(async () => { await rm(work, { recursive: true, force: true }); });

test('a Keras-tutorial CNN with Rescaling inside: raw-pixel manifest, parity printed, ORT equals tfjs', async () => {
  const model = seq([
    L.rescaling({ inputShape: [20, 24, 3], scale: 1 / 255 }),
    L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), L.maxPooling2d({ poolSize: 2 }),
    L.flatten(), L.dense({ units: 8, activation: 'relu' }), L.dropout({ rate: 0.2 }), L.dense({ units: 3, activation: 'softmax' }),
  ]);
  const src = join(work, 'cnn');
  await saveLayersModelToDir(model, src, tf);
  await writeFile(join(work, 'labels.txt'), 'cat\ndog\nnone\n');
  const out = join(work, 'cnn-folder');
  const r = await runCli(['export', src, '--out', out, '--labels', join(work, 'labels.txt')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /parity: max \|ONNX Runtime − tfjs\| = \d\.\d\de-\d+ on random inputs \(limit 1e-4\)/);
  const folder = await loadModelFolder(out);
  assert.deepEqual(folder.manifest.labels, ['cat', 'dog', 'none']);
  assert.equal(folder.manifest.preprocess.scale, 1);
  assert.deepEqual(folder.manifest.preprocess.size, [20, 24]);
  const x = seededInput(2 * 20 * 24 * 3, 3, 0, 255);
  const want = (model.predict(tf.tensor(x, [2, 20, 24, 3])) as tf.Tensor).dataSync();
  const got = (await runOnnx(folder.modelBytes, { input: { data: x, dims: [2, 20, 24, 3] } })).output!;
  assert.ok(maxDiff(got.data, want) <= 1e-4);
});

test('--preset and --layout NCHW are honoured; a missing folder fails with exit 1 and a clear message', async () => {
  const src = join(work, 'plain');
  await saveLayersModelToDir(seq([L.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3 }), L.globalAveragePooling2d({}), L.dense({ units: 2, activation: 'softmax' })]), src, tf);
  const out = join(work, 'plain-folder');
  const r = await runCli(['export', src, '--out', out, '--labels', 'yes,no', '--preset', 'keras-mobilenet', '--layout', 'NCHW']);
  assert.equal(r.code, 0, r.stderr);
  const m = (await loadModelFolder(out)).manifest;
  assert.deepEqual(m.input.shape, [-1, 3, 8, 8]);
  assert.equal(m.input.layout, 'NCHW');
  assert.ok(Math.abs(m.preprocess.scale - 1 / 127.5) < 1e-12);
  const missing = await runCli(['export', join(work, 'nope'), '--out', join(work, 'nope-out'), '--labels', 'a,b']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /model\.json.*TFJS_MODEL_MISSING/s);
});
