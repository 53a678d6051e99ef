import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyClassifierOnnx, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';

/** The real CLI, as a user runs it (dist/src/cli/main.js). */
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function edgecam(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-cli-model-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('edgecam model wrap + model inspect --json on a Keras-style NHWC classifier', () => withTmp(async (dir) => {
  await writeFile(join(dir, 'keras.onnx'), tinyClassifierOnnx({ layout: 'NHWC', inputSize: 40, labels: 2 }));
  const wrap = await edgecam(['model', 'wrap', join(dir, 'keras.onnx'), '--labels', 'cat,dog', '--out', join(dir, 'm'), '--preset', 'keras-mobilenet', '--version', '7']);
  assert.equal(wrap.code, 0, wrap.stderr);
  const inspect = await edgecam(['model', 'inspect', join(dir, 'm'), '--json']);
  assert.equal(inspect.code, 0, inspect.stderr);
  const r = JSON.parse(inspect.stdout);
  assert.deepEqual(r.labels, ['cat', 'dog']);
  assert.equal(r.manifest.version, '7');
  assert.deepEqual(r.manifest.input, { name: 'input', shape: [-1, 40, 40, 3], layout: 'NHWC', channels: 3, colorOrder: 'RGB', dtype: 'float32' });
  assert.deepEqual(r.manifest.output, { name: 'probs', kind: 'softmax' });
  assert.equal(r.preprocessing.scale, 1 / 127.5);
  assert.deepEqual(r.problems, []);
}));

test('edgecam model wrap refuses a label count that does not match, exit code 1 and the fix', () => withTmp(async (dir) => {
  await writeFile(join(dir, 'm.onnx'), tinyClassifierOnnx({ labels: 3 }));
  const r = await edgecam(['model', 'wrap', join(dir, 'm.onnx'), '--labels', 'cat,dog', '--out', join(dir, 'm')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /2 labels given but output "probs" .* has 3 classes; give exactly 3 labels/);
}));

test('edgecam backbone prepare, then model inspect --json reports the embedding output', () => withTmp(async (dir) => {
  await writeFile(join(dir, 'imagenet.onnx'), tinyImagenetLikeOnnx({ quantized: true, classes: 4 }).bytes);
  await writeFile(join(dir, 'synset.txt'), 'n00000001 apple, pomme\nn00000002 pear\nn00000003 crane\nn00000004 crane\n');
  const prep = await edgecam(['backbone', 'prepare', join(dir, 'imagenet.onnx'), '--out', join(dir, 'bb'), '--labels', join(dir, 'synset.txt')]);
  assert.equal(prep.code, 0, prep.stderr);
  assert.match(prep.stdout, /embedding "embedding" \(8 values\) from tensor pooled_quantized \(dequantized\)/);
  const r = JSON.parse((await edgecam(['model', 'inspect', join(dir, 'bb'), '--json'])).stdout);
  assert.deepEqual(r.embedding, { name: 'embedding', size: 8 });
  assert.deepEqual(r.labels, ['apple', 'pear', 'crane (n00000003)', 'crane (n00000004)']);
  const again = await edgecam(['backbone', 'prepare', join(dir, 'imagenet.onnx'), '--out', join(dir, 'bb')]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /--force/);
}));

test('edgecam model inspect on a truncated file exits 1 with a clear message', () => withTmp(async (dir) => {
  const bytes = tinyClassifierOnnx();
  await writeFile(join(dir, 'cut.onnx'), bytes.subarray(0, 300));
  const r = await edgecam(['model', 'inspect', join(dir, 'cut.onnx')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /truncated or corrupted.*\[ONNX_TRUNCATED\]/s);
}));

test('edgecam model ensemble + model inspect: one folder averaging two classifiers (and their mirrors); a lone folder is refused', () => withTmp(async (dir) => {
  for (const seed of [1, 2]) {
    await writeFile(join(dir, `m${seed}.onnx`), tinyClassifierOnnx({ layout: 'NHWC', inputSize: 16, seed }));
    const wrap = await edgecam(['model', 'wrap', join(dir, `m${seed}.onnx`), '--labels', 'cat,dog,none', '--out', join(dir, `m${seed}`)]);
    assert.equal(wrap.code, 0, wrap.stderr);
  }
  const made = await edgecam(['model', 'ensemble', join(dir, 'm1'), join(dir, 'm2'), '--mirror', '--out', join(dir, 'both'), '--version', '3']);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /the mean of 2 networks and their mirror images/);
  const inspect = await edgecam(['model', 'inspect', join(dir, 'both')]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /outputs averaged in the graph over 2 networks and the left-right mirror/);
  const lone = await edgecam(['model', 'ensemble', join(dir, 'm1'), '--out', join(dir, 'lone')]);
  assert.equal(lone.code, 1);
  assert.match(lone.stderr, /two or more model folders.*\[ENSEMBLE_TOO_FEW\]/s);
}));
