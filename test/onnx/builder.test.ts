import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, irVersionFor } from '../../src/onnx/builder.js';
import { describeOnnx, parseOnnx } from '../../src/onnx/proto.js';
import { attrValue } from '../../src/onnx/tensor.js';
import { ModelError } from '../../src/errors.js';
import { randomFloats, seededRandom, tinyClassifierOnnx, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { batchNorm, conv2d, dequantize, gemm, maxAbsDiff, pool2d, quantizeU8, softmaxRows, type Nd } from './reference.js';
import { runOnnx } from './run-ort.js';

const TOL = 1e-5;
const nd = (rand: () => number, dims: number[], scale = 1): Nd => ({ data: randomFloats(rand, dims.reduce((a, b) => a * b, 1), scale), dims });

test('Conv with asymmetric pads, strides, group and dilations matches a hand computation', async () => {
  const rand = seededRandom(11);
  const x = nd(rand, [2, 4, 7, 8]);
  const w = nd(rand, [6, 2, 3, 3]);
  const bias = randomFloats(rand, 6);
  const o = { pads: [0, 1, 2, 0], strides: [2, 1], dilations: [1, 2], group: 2 };
  const b = new GraphBuilder();
  const y = b.conv(b.input('x', ['N', 4, 7, 8]), { weight: { data: w.data, dims: w.dims }, bias: { data: bias, dims: [6] }, ...o });
  b.output(y, ['N', 6, '?h', '?w']);
  const got = (await runOnnx(b.toBytes(), { x }))[y]!;
  const want = conv2d(x, w, bias, o);
  assert.deepEqual(got.dims, want.dims);
  assert.ok(maxAbsDiff(got.data, want.data) < TOL, `max diff ${maxAbsDiff(got.data, want.data)}`);
});

test('MaxPool and AveragePool (pads excluded from the average) match a hand computation', async () => {
  const x = nd(seededRandom(12), [1, 3, 9, 7]);
  const o = { kernel: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] };
  const b = new GraphBuilder();
  const input = b.input('x', [1, 3, 9, 7]);
  b.output(b.maxPool(input, { ...o, out: 'max' }), [1, 3, 5, 4]);
  b.output(b.averagePool(input, { ...o, out: 'avg' }), [1, 3, 5, 4]);
  const got = await runOnnx(b.toBytes(), { x });
  const wantMax = pool2d(x, 'max', o), wantAvg = pool2d(x, 'avg', o);
  assert.deepEqual(got.max!.dims, wantMax.dims);
  assert.ok(maxAbsDiff(got.max!.data, wantMax.data) < TOL);
  assert.ok(maxAbsDiff(got.avg!.data, wantAvg.data) < TOL, `avg diff ${maxAbsDiff(got.avg!.data, wantAvg.data)}`);
});

test('BatchNormalization matches a hand computation', async () => {
  const rand = seededRandom(13);
  const x = nd(rand, [2, 3, 4, 4]);
  const [scale, bias, mean] = [randomFloats(rand, 3), randomFloats(rand, 3), randomFloats(rand, 3)];
  const variance = Float32Array.from(randomFloats(rand, 3), (v) => Math.abs(v) + 0.1);
  const b = new GraphBuilder();
  const y = b.batchNormalization(b.input('x', ['N', 3, 4, 4]), { scale: { data: scale, dims: [3] }, bias: { data: bias, dims: [3] }, mean: { data: mean, dims: [3] }, variance: { data: variance, dims: [3] }, epsilon: 1e-3 });
  b.output(y, ['N', 3, 4, 4]);
  const got = (await runOnnx(b.toBytes(), { x }))[y]!;
  const want = batchNorm(x, [...scale], [...bias], [...mean], [...variance], 1e-3);
  assert.ok(maxAbsDiff(got.data, want.data) < TOL, `diff ${maxAbsDiff(got.data, want.data)}`);
});

test('Gemm (transB, float alpha/beta) then Softmax match a hand computation', async () => {
  const rand = seededRandom(14);
  const a = nd(rand, [3, 5]);
  const w = nd(rand, [4, 5]);
  const c = randomFloats(rand, 4);
  const b = new GraphBuilder();
  const logits = b.gemm(b.input('a', ['N', 5]), { data: w.data, dims: w.dims }, { data: c, dims: [4] }, { transB: true, alpha: 1, beta: 0.5, out: 'logits' });
  b.output(logits, ['N', 4]);
  b.output(b.softmax(logits, 1, 'probs'), ['N', 4]);
  const got = await runOnnx(b.toBytes(), { a });
  const wantLogits = gemm(a, w, c, true, 1, 0.5);
  assert.ok(maxAbsDiff(got.logits!.data, wantLogits.data) < TOL);
  assert.ok(maxAbsDiff(got.probs!.data, softmaxRows(wantLogits).data) < TOL);
});

test('QuantizeLinear → DequantizeLinear matches a hand computation (uint8, zero point 128)', async () => {
  const x = nd(seededRandom(15), [2, 6], 3);
  const b = new GraphBuilder();
  const q = b.quantizeLinear(b.input('x', [2, 6]), { data: new Float32Array([0.02]), dims: [] }, { data: new Uint8Array([128]), dims: [] });
  b.output(b.dequantizeLinear(q, { data: new Float32Array([0.02]), dims: [] }, { data: new Uint8Array([128]), dims: [] }, 'y'), [2, 6]);
  const got = (await runOnnx(b.toBytes(), { x })).y!;
  const want = dequantize(quantizeU8(x.data, 0.02, 128), 0.02, 128);
  assert.ok(maxAbsDiff(got.data, want) < TOL, `diff ${maxAbsDiff(got.data, want)}`);
  assert.ok(Math.max(...got.data) <= 127 * 0.02 + 1e-6, 'saturates at 255');
});

test('element-wise and shape ops: Clip, Sigmoid, Add, Mul, MatMul, Concat, Transpose, Reshape, Flatten, GAP, Identity', async () => {
  const rand = seededRandom(16);
  const x = nd(rand, [1, 2, 2, 3], 2);
  const m = nd(rand, [3, 2]);
  const b = new GraphBuilder();
  const input = b.input('x', [1, 2, 2, 3]);
  b.output(b.clip(input, -0.5, 0.75, 'clipped'), [1, 2, 2, 3]);
  b.output(b.sigmoid(input, 'sig'), [1, 2, 2, 3]);
  b.output(b.mul(b.add(input, { data: new Float32Array([1, 2, 3]), dims: [3] }), { data: new Float32Array([2]), dims: [] }, 'affine'), [1, 2, 2, 3]);
  b.output(b.matMul(input, { data: m.data, dims: m.dims }, 'mm'), [1, 2, 2, 2]);
  b.output(b.concat([input, input], 3, 'cat'), [1, 2, 2, 6]);
  const nchw = b.transpose(input, [0, 3, 1, 2], 'nchw');
  b.output(nchw, [1, 3, 2, 2]);
  b.output(b.reshape(input, [1, -1], 'flat_r'), [1, 12]);
  b.output(b.flatten(b.globalAveragePool(nchw), 1, 'gap'), [1, 3]);
  b.output(b.identity(input, 'same'), [1, 2, 2, 3]);
  const got = await runOnnx(b.toBytes(), { x });
  const v = [...x.data];
  const near = (name: string, want: number[]) => assert.ok(maxAbsDiff(got[name]!.data, want) < TOL, `${name}: ${[...got[name]!.data]} vs ${want}`);
  near('clipped', v.map((e) => Math.min(0.75, Math.max(-0.5, e))));
  near('sig', v.map((e) => 1 / (1 + Math.exp(-e))));
  near('affine', v.map((e, i) => (e + (i % 3) + 1) * 2));
  near('mm', [0, 1, 2, 3].flatMap((r) => [0, 1].map((c) => v[r * 3]! * m.data[c]! + v[r * 3 + 1]! * m.data[2 + c]! + v[r * 3 + 2]! * m.data[4 + c]!)));
  near('cat', [0, 1, 2, 3].flatMap((r) => [...v.slice(r * 3, r * 3 + 3), ...v.slice(r * 3, r * 3 + 3)]));
  near('nchw', [0, 1, 2].flatMap((c) => [0, 1, 2, 3].map((p) => v[p * 3 + c]!)));
  near('flat_r', v);
  near('gap', [0, 1, 2].map((c) => [0, 1, 2, 3].reduce((s, p) => s + v[p * 3 + c]!, 0) / 4));
  near('same', v);
});

test('names are unique, duplicates are refused, attributes carry explicit types', () => {
  const b = new GraphBuilder({ opset: 10 });
  assert.equal(b.uniqueName('t'), 't');
  assert.equal(b.uniqueName('t'), 't_1');
  b.input('x', [1, 4]);
  assert.throws(() => b.input('x', [1, 4]), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_DUPLICATE_NAME');
  assert.throws(() => b.toModel(), (e: unknown) => e instanceof ModelError && e.code === 'ONNX_NO_OUTPUT');
  const y = b.clip('x', 0, 6);
  b.output(y, [1, 4]);
  const model = parseOnnx(b.toBytes());
  const clip = model.graph!.node!.find((n) => n.opType === 'Clip')!;
  assert.equal(clip.input!.length, 1, 'opset < 11: min/max are attributes');
  assert.equal(attrValue(clip, 'max'), 6);
  assert.equal(clip.attribute!.find((a) => a.name === 'max')!.type, 1, 'FLOAT, even for an integral value');
  assert.equal(describeOnnx(model).irVersion, irVersionFor(10));
});

test('fixtures are deterministic and NHWC / NCHW variants compute the same function', async () => {
  assert.deepEqual(tinyClassifierOnnx({ seed: 3 }), tinyClassifierOnnx({ seed: 3 }));
  assert.notDeepEqual(tinyClassifierOnnx({ seed: 3 }), tinyClassifierOnnx({ seed: 4 }));
  const x = nd(seededRandom(17), [2, 3, 8, 8]);
  const xNhwc = { data: new Float32Array(x.data.length), dims: [2, 8, 8, 3] };
  for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < 64; p++) xNhwc.data[(n * 64 + p) * 3 + c] = x.data[(n * 3 + c) * 64 + p]!;
  const a = (await runOnnx(tinyClassifierOnnx({ inputSize: 8, labels: 4, seed: 5 }), { input: x })).probs!;
  const b = (await runOnnx(tinyClassifierOnnx({ inputSize: 8, labels: 4, seed: 5, layout: 'NHWC' }), { input: xNhwc })).probs!;
  assert.deepEqual(a.dims, [2, 4]);
  assert.ok(maxAbsDiff(a.data, b.data) < TOL);
  assert.ok(Math.abs(a.data.slice(0, 4).reduce((s, v) => s + v, 0) - 1) < 1e-5, 'softmax rows sum to 1');
});

test('the quantized ImageNet-like fixture stays close to its float twin', async () => {
  const x = nd(seededRandom(18), [1, 3, 16, 16]);
  const f = (await runOnnx(tinyImagenetLikeOnnx().bytes, { input: x })).logits!;
  const q = (await runOnnx(tinyImagenetLikeOnnx({ quantized: true }).bytes, { input: x })).logits!;
  assert.deepEqual(q.dims, [1, 10]);
  assert.ok(maxAbsDiff(f.data, q.data) < 0.1, `diff ${maxAbsDiff(f.data, q.data)}`);
});
