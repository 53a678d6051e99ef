import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelError } from '../../src/errors.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { mirrorAverage } from '../../src/onnx/mirror.js';
import { encodeOnnx, parseOnnx } from '../../src/onnx/proto.js';
import { averageScales } from '../../src/onnx/scales.js';
import { attr } from '../../src/onnx/tensor.js';
import { randomFloats, seededRandom, tinyClassifierOnnx, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { runOnnx } from './run-ort.js';

/** Test-time views baked into the graph (onnx/mirror.ts, onnx/scales.ts), checked against running the plain graph per view. */

type Layout = 'NCHW' | 'NHWC';

/** Left-right mirror of an [N, …] image batch in JS, the reference for the graph's Slice. */
function mirrorBatch(x: Float32Array, dims: number[], layout: Layout): Float32Array {
  const [n, a, b, c] = dims as [number, number, number, number];
  const out = new Float32Array(x.length);
  const at = (i: number, p: number, q: number, r: number) => ((i * a + p) * b + q) * c + r;
  for (let i = 0; i < n; i++) for (let p = 0; p < a; p++) for (let q = 0; q < b; q++) for (let r = 0; r < c; r++) {
    out[at(i, p, q, r)] = layout === 'NCHW' ? x[at(i, p, q, c - 1 - r)]! : x[at(i, p, b - 1 - q, r)]!;
  }
  return out;
}

const maxDiff = (a: Float32Array, b: ArrayLike<number>) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

for (const layout of ['NCHW', 'NHWC'] as const) {
  test(`mirror averaging (${layout}): the graph's scores are the mean of the plain graph on the image and on its mirror`, async () => {
    const plain = tinyClassifierOnnx({ layout, inputSize: 12, seed: 4 });
    const dims = layout === 'NCHW' ? [3, 3, 12, 12] : [3, 12, 12, 3];
    const x = randomFloats(seededRandom(9), 3 * 3 * 12 * 12);
    const mirrored = encodeOnnx(mirrorAverage(parseOnnx(plain), { layout, outputs: ['probs'] }));
    const got = (await runOnnx(mirrored, { input: { data: x, dims } })).probs!;
    const a = (await runOnnx(plain, { input: { data: x, dims } })).probs!.data;
    const b = (await runOnnx(plain, { input: { data: mirrorBatch(x, dims, layout), dims } })).probs!.data;
    assert.deepEqual(got.dims, [3, 3]);
    assert.ok(maxDiff(got.data, a.map((v, i) => (v + b[i]!) / 2)) < 1e-6);
    assert.ok(maxDiff(a, b) > 1e-3, 'the fixture must see a difference between an image and its mirror');
  });
}

/** Bilinear half-pixel Resize by ONNX Runtime itself: the reference for the graph's in-model resize. */
async function resizeWithOrt(x: Float32Array, dims: number[], size: number): Promise<{ data: Float32Array; dims: number[] }> {
  const b = new GraphBuilder({ name: 'resize', opset: 13 });
  const input = b.input('input', dims);
  const roi = b.initializer('roi', new Float32Array(0), [0]);
  const scales = b.initializer('scales', Float32Array.of(1, 1, size / dims[2]!, size / dims[3]!), [4]);
  b.output(b.node('Resize', [input, roi, scales], [attr.string('mode', 'linear'), attr.string('coordinate_transformation_mode', 'half_pixel')], { out: ['resized'] })[0]!, [dims[0]!, 3, size, size]);
  return (await runOnnx(b.toBytes(), { input: { data: x, dims } })).resized!;
}

/** The graph with its spatial input dims made symbolic, so the plain network can be fed any size. */
function anySize(bytes: Uint8Array): Uint8Array {
  const m = parseOnnx(bytes);
  const d = m.graph!.input![0]!.type!.tensorType!.shape!.dim!;
  d[2] = { dimParam: 'h' };
  d[3] = { dimParam: 'w' };
  return encodeOnnx(m);
}

test('a backbone prepared with --tta-scales 32,40 (+ mirror) averages logits and embedding over the resized views; the manifest says so', async () => {
  const f = tinyImagenetLikeOnnx({ classes: 4, inputSize: 24 });
  const opts = { name: 'tiny', created: '2024-01-01T00:00:00Z', labels: ['a', 'b', 'c', 'd'] };
  const plain = anySize((await prepareBackbone(f.bytes, opts)).modelBytes);
  for (const mirror of [false, true]) {
    const prepared = await prepareBackbone(f.bytes, { ...opts, views: { scales: [40, 32], mirror } });
    assert.deepEqual(prepared.manifest.output.views, mirror ? { scales: [32, 40], mirror: true } : { scales: [32, 40] });
    assert.deepEqual(prepared.manifest.input.shape, [-1, 3, 40, 40]);
    assert.deepEqual(prepared.manifest.preprocess.size, [40, 40]);
    const dims = [2, 3, 40, 40];
    const x = randomFloats(seededRandom(5), 2 * 3 * 40 * 40);
    const got = await runOnnx(prepared.modelBytes, { input: { data: x, dims } });
    const small = await resizeWithOrt(x, dims, 32);
    const views = [{ data: x, dims }, small, ...(mirror ? [{ data: mirrorBatch(x, dims, 'NCHW'), dims }, { data: mirrorBatch(small.data, small.dims, 'NCHW'), dims: small.dims }] : [])];
    const outs = await Promise.all(views.map((v) => runOnnx(plain, { input: v })));
    for (const name of ['logits', 'embedding']) {
      const want = outs[0]![name]!.data.map((_, i) => outs.reduce((s, o) => s + o[name]!.data[i]!, 0) / outs.length);
      assert.deepEqual(got[name]!.dims, outs[0]![name]!.dims);
      assert.ok(maxDiff(got[name]!.data, want) < 1e-5, `${name} (mirror ${mirror}): ${maxDiff(got[name]!.data, want)}`);
      assert.ok(maxDiff(outs[0]![name]!.data, outs[1]![name]!.data) > 1e-4, 'the scales must differ for the check to mean anything');
    }
  }
});

test('view transforms refuse what they cannot do with a clear error', async () => {
  const model = () => parseOnnx(tinyClassifierOnnx({ inputSize: 40 }));
  const code = (fn: () => unknown, c: string) => assert.throws(fn, (e: unknown) => e instanceof ModelError && e.code === c);
  code(() => averageScales(model(), { layout: 'NCHW', scales: [40], outputs: ['probs'] }), 'SCALES_INVALID');
  code(() => averageScales(model(), { layout: 'NCHW', scales: [40, 20.5], outputs: ['probs'] }), 'SCALES_INVALID');
  code(() => averageScales(model(), { layout: 'NCHW', scales: [40, 32], outputs: ['nope'] }), 'VIEWS_OUTPUT');
  code(() => mirrorAverage(mirrorAverage(model(), { layout: 'NCHW', outputs: ['probs'] }), { layout: 'NCHW', outputs: ['probs'] }), 'MIRROR_ALREADY');
  // An output read inside the graph (a head on an embedding) would mix averaged and per-view values.
  const inner = model();
  inner.graph!.output!.push({ ...inner.graph!.output![0]!, name: inner.graph!.node![2]!.output![0]! });
  code(() => mirrorAverage(inner, { layout: 'NCHW', outputs: [inner.graph!.node![2]!.output![0]!] }), 'VIEWS_OUTPUT');
});
