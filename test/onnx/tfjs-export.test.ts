import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelError } from '../../src/errors.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { encodeOnnx, parseOnnx, producerOf } from '../../src/onnx/proto.js';
import { attrValue } from '../../src/onnx/tensor.js';
import { exportLayersModelToOnnx, loadLayersModelFromDir, saveLayersModelToDir } from '../../src/onnx/tfjs-export.js';
import { samePads } from '../../src/onnx/tfjs-export/layers-spatial.js';
import { measureParity } from '../../src/onnx/tfjs-export/parity.js';
import { exportTfjsFolder } from '../../src/onnx/tfjs-export/to-folder.js';
import { presetPreprocess } from '../../src/models/presets.js';
import { assertExportParity, maxDiff, randomizeWeights, seededInput, seq, useCpuBackend } from './tfjs-export-helpers.js';
import { runOnnx } from './run-ort.js';

const L = tf.layers;
let work: string;
before(async () => {
  await useCpuBackend();
  work = await mkdtemp(join(tmpdir(), 'edgecam-tfjs-export-'));
});
after(async () => { await rm(work, { recursive: true, force: true }); });

describe("TF 'same' padding", () => {
  test('puts the extra pixel at the end: stride 2 on even sizes is asymmetric', () => {
    assert.deepEqual(samePads(8, 3, 2), [0, 1]);
    assert.deepEqual(samePads(224, 3, 2), [0, 1]);
    assert.deepEqual(samePads(7, 3, 2), [1, 1]);
    assert.deepEqual(samePads(8, 3, 1), [1, 1]);
    assert.deepEqual(samePads(9, 4, 2), [1, 2]);
    assert.deepEqual(samePads(10, 3, 1, 2), [2, 2]);
    assert.deepEqual(samePads(5, 1, 2), [0, 0]);
  });

  test('the exported Conv carries pads [0, 0, 1, 1] for a 3×3 stride-2 conv on 8×8', async () => {
    const r = await assertExportParity(seq([L.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, strides: 2, padding: 'same' })]));
    const conv = parseOnnx(r.modelBytes).graph!.node!.find((n) => n.opType === 'Conv')!;
    assert.deepEqual(attrValue(conv, 'pads'), [0, 0, 1, 1]);
  });
});

describe('Flatten order (FIELD-NOTES: tfjs flattens NHWC)', () => {
  test('a Transpose back to NHWC feeds Flatten, and without it the parity check fails', async () => {
    const model = seq([L.conv2d({ inputShape: [6, 5, 3], filters: 4, kernelSize: 3, activation: 'relu' }), L.flatten(), L.dense({ units: 3, activation: 'softmax' })]);
    const r = await assertExportParity(model);
    const proto = parseOnnx(r.modelBytes);
    const flatten = proto.graph!.node!.find((n) => n.opType === 'Flatten')!;
    const transpose = producerOf(proto, flatten.input![0]!)!;
    assert.equal(transpose.opType, 'Transpose');
    assert.deepEqual(attrValue(transpose, 'perm'), [0, 2, 3, 1]);
    // The classic exporter bug: flatten the channels-first tensor directly.
    flatten.input![0] = transpose.input![0]!;
    const broken = encodeOnnx(proto);
    const diff = await measureParity(model, broken, { inputName: r.inputName, outputNames: [r.outputName], tfjsInputShape: [2, 6, 5, 3], layout: 'NHWC', samples: 2, range: [-1, 1], seed: 5 });
    assert.ok(diff > 1e-2, `a wrong flatten order must be caught by the parity check, diff ${diff}`);
  });
});

describe('errors', () => {
  test('an unsupported layer names the layer and its class', async () => {
    const model = seq([L.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 1 }), L.upSampling2d({ size: [2, 2], name: 'grow' })]);
    await assert.rejects(exportLayersModelToOnnx(model), (err: unknown) => {
      assert.ok(err instanceof ModelError);
      assert.equal(err.code, 'EXPORT_UNSUPPORTED_LAYER');
      assert.match(err.message, /"grow" \(UpSampling2D\)/);
      assert.match(err.message, /supported: .*Conv2D/);
      return true;
    });
  });
  test('an unsupported setting (channelsFirst) is named too', async () => {
    const model = seq([L.maxPooling2d({ inputShape: [3, 4, 4], poolSize: 2, dataFormat: 'channelsFirst', name: 'cf_pool' })]);
    await assert.rejects(exportLayersModelToOnnx(model), /"cf_pool" \(MaxPooling2D\) uses dataFormat "channelsFirst"/);
  });
  test('a layer that computes something else than its class says is caught by the parity check (EXPORT_PARITY)', async () => {
    // Calls itself Dropout (exported as the identity) but doubles its input.
    class Doubler extends tf.layers.Layer {
      static className = 'Dropout';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0]! : inputs, 2);
      }
    }
    const model = seq([L.dense({ inputShape: [4], units: 3 }), new Doubler({ name: 'liar' })]);
    await assert.rejects(exportLayersModelToOnnx(model), (e: unknown) => e instanceof ModelError && e.code === 'EXPORT_PARITY' && /differs from tfjs by \d/.test(e.message));
  });
  test('a model with a dynamic input size needs paritySize', async () => {
    const model = seq([L.conv2d({ inputShape: [null, null, 3] as unknown as number[], filters: 2, kernelSize: 3 }), L.globalAveragePooling2d({})]);
    await assert.rejects(exportLayersModelToOnnx(model), (e: unknown) => e instanceof ModelError && e.code === 'EXPORT_DYNAMIC_SIZE');
    const r = await exportLayersModelToOnnx(model, { paritySize: [9, 7] });
    assert.deepEqual(r.inputShape, [-1, -1, -1, 3]);
    assert.ok(r.parityMaxAbsDiff <= 1e-4);
  });
});

/** A Teachable-Machine-shaped model: Sequential[Sequential[functional trunk, GAP], Sequential head]. */
function nestedModel(): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3] });
  let x = L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor;
  x = L.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = L.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
  x = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
  const trunk = tf.model({ inputs: input, outputs: x });
  const base = tf.sequential();
  base.add(trunk);
  base.add(L.globalAveragePooling2d({}));
  const head = tf.sequential({ layers: [L.dense({ inputShape: [4], units: 6, activation: 'relu' }), L.dense({ units: 3, useBias: false, activation: 'softmax' })] });
  const full = tf.sequential();
  full.add(base);
  full.add(head);
  randomizeWeights(full, 3);
  return full;
}

describe('tfjs model folders on disk (no tfjs-node)', () => {
  test('a nested model saved and loaded back predicts the same and exports with parity', async () => {
    const model = nestedModel();
    const dir = join(work, 'nested');
    await saveLayersModelToDir(model, dir, tf);
    const loaded = await loadLayersModelFromDir(tf, dir);
    const x = tf.tensor(seededInput(2 * 16 * 16 * 3, 4), [2, 16, 16, 3]);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.predict(x) as tf.Tensor).dataSync();
    assert.equal(maxDiff(a, b), 0);
    await assertExportParity(loaded);
  });
  test('weight paths outside the folder, missing shards and graph models are refused clearly', async () => {
    const dir = join(work, 'broken');
    await saveLayersModelToDir(seq([L.dense({ inputShape: [3], units: 2 })]), dir, tf);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[]; format?: string };
    json.weightsManifest[0]!.paths = ['../../etc/passwd'];
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await assert.rejects(loadLayersModelFromDir(tf, dir), /outside its folder/);
    json.weightsManifest[0]!.paths = ['gone.bin'];
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await assert.rejects(loadLayersModelFromDir(tf, dir), (e: unknown) => e instanceof ModelError && e.code === 'TFJS_WEIGHTS_MISSING' && /gone\.bin/.test(e.message));
    json.format = 'graph-model';
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await assert.rejects(loadLayersModelFromDir(tf, dir), (e: unknown) => e instanceof ModelError && e.code === 'TFJS_GRAPH_MODEL');
    await assert.rejects(loadLayersModelFromDir(tf, join(work, 'nowhere')), (e: unknown) => e instanceof ModelError && e.code === 'TFJS_MODEL_MISSING');
  });
});

describe('tfjs folder → model folder', () => {
  test('a binary sigmoid CNN becomes a two-class folder whose ORT scores are [1 − p, p] of tfjs', async () => {
    const model = seq([L.conv2d({ inputShape: [12, 10, 3], filters: 3, kernelSize: 3, activation: 'relu' }), L.maxPooling2d({ poolSize: 2 }), L.flatten(), L.dense({ units: 1, activation: 'sigmoid' })]);
    const src = join(work, 'binary-src');
    await saveLayersModelToDir(model, src, tf);
    await writeFile(join(src, 'labels.txt'), 'cat\ndog\n');
    const out = join(work, 'binary-out');
    const { folder, export: r } = await exportTfjsFolder({ modelDir: src, outDir: out, preprocess: (s) => presetPreprocess('keras', s) });
    assert.ok(r.parityMaxAbsDiff <= 1e-4);
    const loaded = await loadModelFolder(out);
    assert.deepEqual(loaded.manifest.labels, ['cat', 'dog']);
    assert.deepEqual(loaded.manifest.input.shape, [-1, 12, 10, 3]);
    assert.deepEqual(loaded.manifest.preprocess.size, [12, 10]);
    assert.equal(loaded.manifest.output.kind, 'probabilities');
    assert.equal(folder.manifest.metrics.exportParityMaxAbsDiff, r.parityMaxAbsDiff);
    const x = seededInput(3 * 12 * 10 * 3, 8, 0, 1);
    const p = (model.predict(tf.tensor(x, [3, 12, 10, 3])) as tf.Tensor).dataSync();
    const got = (await runOnnx(loaded.modelBytes, { [loaded.manifest.input.name]: { data: x, dims: [3, 12, 10, 3] } }))[loaded.manifest.output.name]!;
    assert.deepEqual(got.dims, [3, 2]);
    assert.ok(maxDiff(got.data, Array.from(p).flatMap((v) => [1 - v, v])) <= 1e-4);
  });
  test('a label count that does not match the output is refused before anything is written', async () => {
    const src = join(work, 'three-src');
    await saveLayersModelToDir(seq([L.flatten({ inputShape: [4, 4, 3] }), L.dense({ units: 3, activation: 'softmax' })]), src, tf);
    await assert.rejects(exportTfjsFolder({ modelDir: src, outDir: join(work, 'three-out'), labels: ['a', 'b'], preprocess: (s) => presetPreprocess('keras', s) }),
      (e: unknown) => e instanceof ModelError && e.code === 'EXPORT_LABEL_COUNT' && /outputs 3 scores/.test(e.message));
    await assert.rejects(readFile(join(work, 'three-out', 'manifest.json')));
  });
});
