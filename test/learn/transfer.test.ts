import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainTransfer } from '../../src/learn/transfer.js';
import { headLayers, parseHeadFile } from '../../src/learn/head-file.js';
import { logProgress } from '../../src/learn/progress.js';
import type { TrainOptions } from '../../src/learn/options.js';
import { createClassifier } from '../../src/inference/engine.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder, writeModelFolder } from '../../src/models/folder.js';
import { preprocessSpecOf } from '../../src/models/manifest.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { parseOnnx } from '../../src/onnx/proto.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { writeColourDataset } from './synthetic.js';

await tf.setBackend('cpu');

function options(dir: string, backbone: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    dataset: join(dir, 'data'), out: join(dir, 'model'), arch: 'transfer', epochs: 25, batchSize: 8, lr: 0.05, valSplit: 0.25, seed: 3,
    patience: 0, classWeights: true, weightDecay: 0, force: true, name: 'colours', version: '1',
    cnn: { inputSize: 8, filters: [4], convsPerBlock: 1, dense: [], dropout: 0, batchNorm: false, resize: 'squash' },
    transfer: { backbone, hidden: 4, dropout: 0, augmentCopies: 0, cacheDir: join(dir, 'cache'), providers: ['cpu'] },
    ...over,
  };
}

/** The head in plain arithmetic: Dense (+ReLU) … Dense + softmax, from head.json's weights. */
function headForward(layers: ReturnType<typeof headLayers>, x: Float32Array): number[] {
  let v = Array.from(x);
  for (const l of layers) {
    const out = Array.from({ length: l.outDim }, (_, j) => v.reduce((s, xi, i) => s + xi * l.weights[i * l.outDim + j]!, l.bias[j]!));
    if (l.activation === 'relu') v = out.map((o) => Math.max(0, o));
    else if (l.activation === 'softmax') { const m = Math.max(...out); const e = out.map((o) => Math.exp(o - m)); const s = e.reduce((a, b) => a + b); v = e.map((q) => q / s); }
    else v = out;
  }
  return v;
}

test('transfer learning on a tiny backbone gives ONE ONNX whose scores match the trained head on the same embeddings', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-transfer-'));
  try {
    const fixture = tinyImagenetLikeOnnx({ inputSize: 16, embeddingSize: 8, quantized: true });
    const prepared = await prepareBackbone(fixture.bytes, { name: 'tiny', created: new Date().toISOString(), preset: 'imagenet-backbone', source: 'tiny.onnx' });
    await writeModelFolder(join(dir, 'backbone'), { modelBytes: prepared.modelBytes, manifest: prepared.manifest });
    await writeColourDataset(join(dir, 'data'), { red: 12, blue: 12 }, 16);
    const deps = { logger: silentLogger(), preprocess: preprocessImage, progress: logProgress(silentLogger()), backend: 'cpu' };

    const first = await trainTransfer(deps, options(dir, join(dir, 'backbone')));
    assert.equal(first.summary.embeddings!.computed, 24);
    assert.equal(first.summary.embeddings!.cached, 0);
    assert.ok(first.summary.fit.history.at(-1)!.loss < first.summary.fit.history[0]!.loss, 'head training reduced the loss');
    assert.ok(first.summary.exportParityMaxAbsDiff! <= 1e-4);

    const folder = await loadModelFolder(join(dir, 'model'));
    const outputs = parseOnnx(folder.modelBytes).graph!.output!.map((o) => o.name);
    assert.deepEqual(outputs, ['scores', 'embedding'], 'one graph: backbone + head, with the embedding kept');
    assert.equal(folder.manifest.output.kind, 'softmax');
    assert.deepEqual(folder.manifest.preprocess, (await loadModelFolder(join(dir, 'backbone'))).manifest.preprocess, 'preprocessing is the backbone\'s');
    assert.equal(folder.manifest.provenance.backboneSha256, (await loadModelFolder(join(dir, 'backbone'))).manifest.sha256);
    const layers = headLayers(parseHeadFile(await readFile(join(dir, 'model', 'head.json'), 'utf8')));
    assert.deepEqual(layers.map((l) => [l.inDim, l.outDim, l.activation]), [[8, 4, 'relu'], [4, 2, 'softmax']]);

    // ORT on the composed model vs. the head applied to the backbone's own embedding of the same image.
    const composed = await createClassifier({ logger: silentLogger() }, { folder, providers: ['cpu'] });
    const backbone = await createClassifier({ logger: silentLogger() }, { folder: await loadModelFolder(join(dir, 'backbone')), providers: ['cpu'] });
    try {
      for (const file of ['red/red_000.png', 'blue/blue_003.png', 'red/red_007.png']) {
        const tensor = await preprocessImage(await readFile(join(dir, 'data', file)), preprocessSpecOf(folder.manifest));
        const got = await composed.classify(tensor);
        const emb = (await backbone.classify(tensor)).embedding!;
        assert.deepEqual(Array.from(got.embedding!), Array.from(emb));
        const want = headForward(layers, emb);
        got.scores.probabilities.forEach((p, k) => assert.ok(Math.abs(p - want[k]!) < 1e-5, `${file} class ${k}: ${p} vs ${want[k]}`));
      }
    } finally {
      await composed.dispose();
      await backbone.dispose();
    }

    const second = await trainTransfer(deps, options(dir, join(dir, 'backbone'), { epochs: 2 }));
    assert.deepEqual(second.summary.embeddings, { cached: 24, computed: 0 }, 'the second run reads every embedding from the disk cache');

    const augmented = await trainTransfer(deps, options(dir, join(dir, 'backbone'), { epochs: 2, augment: { flip: true, rotation: 10, shift: 0, zoom: 0, shear: 0, brightness: 0.1, contrast: 0 }, transfer: { ...options(dir, '').transfer, backbone: join(dir, 'backbone'), augmentCopies: 2 } }));
    const nTrain = Object.values(augmented.summary.dataset.train).reduce((a, b) => a + b, 0);
    assert.equal(augmented.summary.embeddings!.computed, nTrain * 2, 'two augmented copies per training image, plain ones cached');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
