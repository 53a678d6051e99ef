import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { describeOnnx } from '../../src/onnx/proto.js';
import { parseOnnx } from '../../src/onnx/proto.js';
import { loadModelFolder, sha256Hex, writeModelFolder } from '../../src/models/folder.js';
import { randomFloats, seededRandom, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { runOnnx } from './run-ort.js';

const opts = { name: 'tiny-backbone', created: '2024-01-01T00:00:00Z', source: 'tiny.onnx' };

for (const quantized of [false, true]) {
  test(`prepareBackbone (${quantized ? 'quantized' : 'float'}): folder loads, ORT returns logits + embedding, manifest describes both`, async () => {
    const f = tinyImagenetLikeOnnx({ quantized, classes: 4 });
    const prepared = await prepareBackbone(f.bytes, { ...opts, labels: ['a', 'b', 'c', 'd'] });
    assert.equal(prepared.embedding.tensor, f.embeddingTensor);
    assert.equal(prepared.embedding.size, 8);
    assert.deepEqual(prepared.manifest.output, { name: 'logits', kind: 'logits', embedding: { name: 'embedding', size: 8 } });
    assert.equal(prepared.manifest.preprocess.resize, 'shorter-side-then-center-crop');
    assert.equal(prepared.manifest.provenance?.backboneSha256, sha256Hex(f.bytes));
    const dir = await mkdtemp(join(tmpdir(), 'edgecam-backbone-'));
    try {
      await writeModelFolder(join(dir, 'b'), { modelBytes: prepared.modelBytes, manifest: prepared.manifest });
      const folder = await loadModelFolder(join(dir, 'b'));
      const x = { data: randomFloats(seededRandom(3), 2 * 3 * 16 * 16), dims: [2, 3, 16, 16] };
      const out = await runOnnx(folder.modelBytes, { input: x });
      const original = await runOnnx(f.bytes, { input: x });
      assert.deepEqual(out.embedding!.dims, [2, 8]);
      assert.deepEqual(out.logits!.data, original.logits!.data, 'logits unchanged');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('prepareBackbone without labels numbers the classes; an explicit 4-D tensor gets its width measured by ONNX Runtime', async () => {
  const f = tinyImagenetLikeOnnx({ classes: 3, embeddingSize: 5 });
  const prepared = await prepareBackbone(f.bytes, { ...opts, embedding: 'pooled' });
  assert.deepEqual(prepared.manifest.labels, ['0', '1', '2']);
  assert.equal(prepared.embedding.size, 5);
  const emb = describeOnnx(parseOnnx(prepared.modelBytes)).outputs.find((o) => o.name === 'embedding')!;
  assert.deepEqual(emb.shape, ['batch_size', 5], 'measured width written into the graph output');
});

test('prepareBackbone refuses wrong label counts, already-prepared models and unknown tensors', async () => {
  const f = tinyImagenetLikeOnnx({ classes: 3 });
  await assert.rejects(prepareBackbone(f.bytes, { ...opts, labels: ['a'] }), (e: unknown) => e instanceof ModelError && e.code === 'WRAP_LABELS');
  const once = await prepareBackbone(f.bytes, opts);
  await assert.rejects(prepareBackbone(once.modelBytes, opts), (e: unknown) => e instanceof ModelError && e.code === 'BACKBONE_ALREADY_PREPARED');
  await assert.rejects(prepareBackbone(f.bytes, { ...opts, embedding: 'nope' }), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_TENSOR_NOT_FOUND');
});
