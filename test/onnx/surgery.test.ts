import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelError } from '../../src/errors.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { addGraphOutput, describeOnnx, encodeOnnx, parseOnnx } from '../../src/onnx/proto.js';
import { attachDenseHead, exposeEmbedding, findEmbeddingTensor } from '../../src/onnx/surgery.js';
import { randomFloats, seededRandom, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { dequantize, gemm, maxAbsDiff, quantizeU8, softmaxRows } from './reference.js';
import { runOnnx } from './run-ort.js';

const image = (n: number, size = 16) => ({ data: randomFloats(seededRandom(99), n * 3 * size * size), dims: [n, 3, size, size] });

/** The pooled features straight from the graph, for comparison. */
async function pooledOf(bytes: Uint8Array, x: ReturnType<typeof image>): Promise<Float32Array> {
  const m = parseOnnx(bytes);
  addGraphOutput(m, 'pooled', 'float32', ['batch_size', 8, 1, 1]);
  return (await runOnnx(encodeOnnx(m), { input: x })).pooled!.data;
}

test('findEmbeddingTensor finds the pooled features behind Flatten → Gemm', () => {
  const f = tinyImagenetLikeOnnx();
  assert.deepEqual(findEmbeddingTensor(parseOnnx(f.bytes)), { tensor: 'pooled', size: 8, classifier: 'Gemm_node' });
});

test('findEmbeddingTensor finds the quantized tensor behind Reshape → QLinearMatMul, with its scale and zero point', () => {
  const f = tinyImagenetLikeOnnx({ quantized: true });
  const e = findEmbeddingTensor(parseOnnx(f.bytes));
  assert.equal(e.tensor, f.embeddingTensor);
  assert.deepEqual(e.quantization, { scale: 'pooled_scale', zeroPoint: 'pooled_zero_point' });
  assert.equal(e.size, 8);
});

test('exposeEmbedding on the float model returns the pooled features as [N, D], logits unchanged', async () => {
  const f = tinyImagenetLikeOnnx();
  const x = image(3);
  const m = parseOnnx(f.bytes);
  exposeEmbedding(m);
  assert.deepEqual(describeOnnx(m).outputs.map((o) => [o.name, o.shape]), [['logits', ['batch_size', 10]], ['embedding', ['batch_size', 8]]]);
  const out = await runOnnx(encodeOnnx(m), { input: x });
  const before = await runOnnx(f.bytes, { input: x });
  assert.deepEqual(out.embedding!.dims, [3, 8]);
  assert.ok(maxAbsDiff(out.embedding!.data, await pooledOf(f.bytes, x)) < 1e-6);
  assert.deepEqual(out.logits!.data, before.logits!.data);
});

test('exposeEmbedding on the quantized model dequantizes: embedding = dequantize(quantize(pooled))', async () => {
  const f = tinyImagenetLikeOnnx({ quantized: true });
  const x = image(2);
  const m = parseOnnx(f.bytes);
  const exposed = exposeEmbedding(m);
  assert.equal(exposed.tensor, 'pooled_quantized');
  const out = await runOnnx(encodeOnnx(m), { input: x });
  const want = dequantize(quantizeU8(await pooledOf(f.bytes, x), 0.01, 0), 0.01, 0);
  assert.deepEqual(out.embedding!.dims, [2, 8]);
  assert.ok(maxAbsDiff(out.embedding!.data, want) < 1e-6, `diff ${maxAbsDiff(out.embedding!.data, want)}`);
  assert.ok(out.embedding!.data.some((v) => v > 0), 'not all zero');
});

test('exposeEmbedding with an explicit tensor, and its errors', async () => {
  const f = tinyImagenetLikeOnnx({ quantized: true });
  const m = parseOnnx(f.bytes);
  assert.throws(() => exposeEmbedding(parseOnnx(f.bytes), 'no_such_tensor'), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_TENSOR_NOT_FOUND');
  const r = exposeEmbedding(m, 'pooled_quantized', 'feat');
  assert.deepEqual(r.quantization, { scale: 'pooled_scale', zeroPoint: 'pooled_zero_point' }, 'quantization found from the QuantizeLinear producer');
  assert.throws(() => exposeEmbedding(m, 'pooled', 'feat'), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_OUTPUT_EXISTS');
  const out = await runOnnx(encodeOnnx(m), { input: image(1) });
  assert.deepEqual(out.feat!.dims, [1, 8]);
});

test('a graph without a classifier asks for --embedding', () => {
  const b = new GraphBuilder();
  b.output(b.relu(b.input('input', [1, 3, 4, 4]), 'y'), [1, 3, 4, 4]);
  assert.throws(() => findEmbeddingTensor(b.toModel()), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_NO_CLASSIFIER' && /--embedding/.test(e.message));
});

test('attachDenseHead: backbone + 2-layer head gives the hand-computed probabilities, backbone untouched', async () => {
  const f = tinyImagenetLikeOnnx({ quantized: true });
  const backbone = parseOnnx(f.bytes);
  exposeEmbedding(backbone);
  const backboneBytes = encodeOnnx(backbone);
  const rand = seededRandom(5);
  const l1 = { weights: randomFloats(rand, 8 * 4), inDim: 8, outDim: 4, bias: randomFloats(rand, 4), activation: 'relu' as const };
  const l2 = { weights: randomFloats(rand, 4 * 3), inDim: 4, outDim: 3, bias: randomFloats(rand, 3), activation: 'softmax' as const };
  const model = attachDenseHead(backbone, { embeddingOutput: 'embedding', outputName: 'probs', layers: [l1, l2] });
  assert.deepEqual(encodeOnnx(backbone), backboneBytes, 'input model not modified');
  const d = describeOnnx(model);
  assert.deepEqual(d.outputs.map((o) => o.name), ['probs', 'embedding']);
  assert.ok(!d.opTypes.includes('QLinearMatMul'), 'the ImageNet classifier is pruned');
  const x = image(2);
  const out = await runOnnx(encodeOnnx(model), { input: x });
  const emb = { data: out.embedding!.data, dims: [2, 8] };
  const h = gemm(emb, { data: l1.weights, dims: [8, 4] }, l1.bias, false);
  h.data.forEach((v, i) => { h.data[i] = Math.max(0, v); });
  const want = softmaxRows(gemm(h, { data: l2.weights, dims: [4, 3] }, l2.bias, false));
  assert.deepEqual(out.probs!.dims, [2, 3]);
  assert.ok(maxAbsDiff(out.probs!.data, want.data) < 1e-5, `diff ${maxAbsDiff(out.probs!.data, want.data)}`);
});

test('attachDenseHead: sigmoid / linear heads, keepBackboneOutputs, and shape errors', async () => {
  const backbone = parseOnnx(tinyImagenetLikeOnnx().bytes);
  exposeEmbedding(backbone);
  const w = randomFloats(seededRandom(6), 8 * 2);
  const sig = attachDenseHead(backbone, { embeddingOutput: 'embedding', outputName: 'scores', keepBackboneOutputs: true, layers: [{ weights: w, inDim: 8, outDim: 2, activation: 'sigmoid' }] });
  assert.deepEqual(describeOnnx(sig).outputs.map((o) => o.name).sort(), ['embedding', 'logits', 'scores']);
  const out = await runOnnx(encodeOnnx(sig), { input: image(1) });
  const lin = gemm({ data: out.embedding!.data, dims: [1, 8] }, { data: w, dims: [8, 2] }, undefined, false);
  assert.ok(maxAbsDiff(out.scores!.data, [...lin.data].map((v) => 1 / (1 + Math.exp(-v)))) < 1e-6);
  const linear = attachDenseHead(backbone, { embeddingOutput: 'embedding', outputName: 'z', layers: [{ weights: w, inDim: 8, outDim: 2, activation: 'linear' }] });
  assert.ok(maxAbsDiff((await runOnnx(encodeOnnx(linear), { input: image(1) })).z!.data, lin.data) < 1e-6);
  const bad = (layers: Parameters<typeof attachDenseHead>[1]['layers'], code: string, emb = 'embedding') =>
    assert.throws(() => attachDenseHead(backbone, { embeddingOutput: emb, outputName: 'p', layers }), (e: unknown) => e instanceof ModelError && e.code === code);
  bad([{ weights: w, inDim: 8, outDim: 3, activation: 'linear' }], 'HEAD_SHAPE');
  bad([{ weights: w, inDim: 8, outDim: 2, activation: 'relu' }, { weights: w, inDim: 8, outDim: 2, activation: 'softmax' }], 'HEAD_SHAPE');
  bad([], 'HEAD_EMPTY');
  bad([{ weights: w, inDim: 8, outDim: 2, activation: 'linear' }], 'ONNX_TENSOR_NOT_FOUND', 'nope');
});
