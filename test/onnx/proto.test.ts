import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { addGraphOutput, appendNodes, attr, describeOnnx, encodeOnnx, ensureOpset, loadOnnx, parseOnnx } from '../../src/onnx/proto.js';
import { tinyClassifierOnnx, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { runOnnx } from './run-ort.js';

const isModelError = (code: string) => (e: unknown) => e instanceof ModelError && e.code === code && e.message.length > 30;

test('describeOnnx lists opset, inputs, outputs, initializers and op types', () => {
  const d = describeOnnx(parseOnnx(tinyImagenetLikeOnnx({ classes: 5, embeddingSize: 6 }).bytes));
  assert.equal(d.irVersion, 7);
  assert.deepEqual(d.opsets, [{ domain: 'ai.onnx', version: 13 }]);
  assert.deepEqual(d.inputs, [{ name: 'input', elemType: 'float32', shape: ['batch_size', 3, 16, 16] }]);
  assert.deepEqual(d.outputs, [{ name: 'logits', elemType: 'float32', shape: ['batch_size', 5] }]);
  assert.deepEqual(d.opTypes, ['Conv', 'Flatten', 'Gemm', 'GlobalAveragePool', 'Relu']);
  assert.equal(d.nodeCount, 5);
  assert.deepEqual(d.initializers.find((i) => i.dims.length === 4), { name: 'conv_W', dims: [6, 3, 3, 3], elemType: 'float32' });
});

test('encode → parse round trip keeps the model byte for byte', () => {
  const bytes = tinyClassifierOnnx();
  assert.deepEqual(encodeOnnx(parseOnnx(bytes)), bytes);
});

test('addGraphOutput exposes an inner tensor that ONNX Runtime then returns', async () => {
  const model = parseOnnx(tinyImagenetLikeOnnx({ embeddingSize: 8 }).bytes);
  addGraphOutput(model, 'pooled', 'float32', ['batch_size', 8, 1, 1]);
  const out = await runOnnx(encodeOnnx(model), { input: { data: new Float32Array(3 * 16 * 16).fill(0.5), dims: [1, 3, 16, 16] } });
  assert.deepEqual(Object.keys(out).sort(), ['logits', 'pooled']);
  assert.deepEqual(out.pooled!.dims, [1, 8, 1, 1]);
  assert.ok(out.pooled!.data.every((v) => v >= 0), 'pooled after Relu is non-negative');
  assert.throws(() => addGraphOutput(model, 'pooled', 'float32', [1]), isModelError('ONNX_OUTPUT_EXISTS'));
  assert.throws(() => addGraphOutput(model, 'nope', 'float32', [1]), isModelError('ONNX_TENSOR_NOT_FOUND'));
});

test('appendNodes adds working nodes, refuses untyped attributes and unknown domains', async () => {
  const model = parseOnnx(tinyImagenetLikeOnnx({ embeddingSize: 8 }).bytes);
  appendNodes(model, [{ opType: 'Flatten', input: ['pooled'], output: ['emb'], name: 'flat_emb', attribute: [attr.int('axis', 1)] }]);
  addGraphOutput(model, 'emb', 'float32', ['batch_size', 8]);
  const out = await runOnnx(encodeOnnx(model), { input: { data: new Float32Array(2 * 3 * 16 * 16).fill(0.1), dims: [2, 3, 16, 16] } });
  assert.deepEqual(out.emb!.dims, [2, 8]);
  assert.throws(() => appendNodes(model, [{ opType: 'Flatten', input: ['pooled'], output: ['e2'], attribute: [{ name: 'axis', i: 1 }] }]), isModelError('ONNX_ATTRIBUTE_TYPE'));
  assert.throws(() => appendNodes(model, [{ opType: 'QLinearAdd', domain: 'com.microsoft', input: [], output: ['e3'] }]), isModelError('ONNX_OPSET_MISSING'));
  ensureOpset(model, 'com.microsoft', 1);
  ensureOpset(model, 'com.microsoft', 1);
  assert.equal(describeOnnx(model).opsets.filter((o) => o.domain === 'com.microsoft').length, 1);
});

test('bad files give clear errors: empty, truncated, wrong magic, look-alikes, missing path', async () => {
  const bytes = tinyClassifierOnnx();
  assert.throws(() => parseOnnx(new Uint8Array(), 'x.onnx'), isModelError('ONNX_EMPTY'));
  for (const cut of [0.3, 0.5, 0.9, 0.99]) {
    assert.throws(() => parseOnnx(bytes.subarray(0, Math.floor(bytes.length * cut)), 'cut.onnx'), (e: unknown) => e instanceof ModelError && /truncated/.test(e.message), `cut at ${cut}`);
  }
  assert.throws(() => parseOnnx(new Uint8Array([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07])), isModelError('ONNX_BAD_MAGIC'));
  assert.throws(() => parseOnnx(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0x10])), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_NOT_ONNX' && /JPEG/.test(e.message));
  assert.throws(() => parseOnnx(new TextEncoder().encode('{"modelTopology": {}}')), (e: unknown) => e instanceof ModelError && /JSON/.test(e.message));
  assert.throws(() => parseOnnx(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0])), (e: unknown) => e instanceof ModelError && /torch\.onnx\.export/.test(e.message));
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-proto-'));
  try {
    await assert.rejects(loadOnnx(join(dir, 'missing.onnx')), isModelError('ONNX_NOT_FOUND'));
    await writeFile(join(dir, 'half.onnx'), bytes.subarray(0, bytes.length >> 1));
    await assert.rejects(loadOnnx(join(dir, 'half.onnx')), (e: unknown) => e instanceof ModelError && e.message.includes('half.onnx'));
    await writeFile(join(dir, 'ok.onnx'), bytes);
    assert.equal(describeOnnx(await loadOnnx(join(dir, 'ok.onnx'))).outputs[0]!.name, 'probs');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
