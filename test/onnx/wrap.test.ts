import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { parseOnnx } from '../../src/onnx/proto.js';
import { detectOutputKind, graphInput, parseLabelsText, parseScale, readLabelsArg, wrapManifest } from '../../src/onnx/wrap.js';
import { manifestSchema } from '../../src/models/manifest.js';
import { tinyClassifierOnnx, tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';

const code = (c: string) => (e: unknown) => e instanceof ModelError && e.code === c;
const base = { name: 'm', created: '2024-01-01T00:00:00Z' };

function graphWithInput(shape: (number | string)[], extra?: (b: GraphBuilder, x: string) => string): ReturnType<GraphBuilder['toModel']> {
  const b = new GraphBuilder();
  const x = b.input('image', shape);
  b.output(extra ? extra(b, x) : b.identity(x, 'y'), shape);
  return b.toModel();
}

test('graphInput reads name, layout and size from NCHW and NHWC graphs', () => {
  assert.deepEqual(graphInput(parseOnnx(tinyClassifierOnnx({ inputSize: 24 }))), { name: 'input', shape: [-1, 3, 24, 24], layout: 'NCHW', size: [24, 24] });
  assert.deepEqual(graphInput(parseOnnx(tinyClassifierOnnx({ inputSize: 24, layout: 'NHWC' }))), { name: 'input', shape: [-1, 24, 24, 3], layout: 'NHWC', size: [24, 24] });
  assert.deepEqual(graphInput(graphWithInput([1, 96, 128, 3])), { name: 'image', shape: [1, 96, 128, 3], layout: 'NHWC', size: [96, 128] });
});

test('graphInput: dynamic size needs --size; non-image and multi-input graphs are refused', () => {
  const dynamic = graphWithInput(['N', 3, 'H', 'W']);
  assert.throws(() => graphInput(dynamic), (e: unknown) => code('WRAP_INPUT_SIZE')(e) && /--size/.test((e as Error).message));
  assert.deepEqual(graphInput(dynamic, { size: [64, 48] }).shape, [-1, 3, 64, 48]);
  assert.throws(() => graphInput(graphWithInput(['N', 1, 28, 28])), (e: unknown) => code('WRAP_INPUT')(e) && /colour channels/.test((e as Error).message));
  assert.throws(() => graphInput(graphWithInput(['N', 784])), code('WRAP_INPUT'));
  const b = new GraphBuilder();
  b.output(b.add(b.input('a', [1, 3, 4, 4]), b.input('b', [1, 3, 4, 4]), 'y'), [1, 3, 4, 4]);
  assert.throws(() => graphInput(b.toModel()), (e: unknown) => code('WRAP_INPUT')(e) && /--input/.test((e as Error).message));
  assert.equal(graphInput(b.toModel(), { name: 'b' }).name, 'b');
});

test('detectOutputKind: Softmax → softmax, Sigmoid (behind Flatten) → sigmoid, anything else → logits', () => {
  assert.equal(detectOutputKind(parseOnnx(tinyClassifierOnnx()), 'probs'), 'softmax');
  assert.equal(detectOutputKind(parseOnnx(tinyImagenetLikeOnnx().bytes), 'logits'), 'logits');
  assert.equal(detectOutputKind(parseOnnx(tinyImagenetLikeOnnx({ quantized: true }).bytes), 'logits'), 'logits');
  assert.equal(detectOutputKind(graphWithInput([1, 3, 2, 2], (b, x) => b.flatten(b.sigmoid(x), 1, 'y')), 'y'), 'sigmoid');
});

test('labels: one per line, ImageNet synset names shortened and disambiguated, duplicates and blanks refused', () => {
  assert.deepEqual(parseLabelsText('cat\r\ndog\n\n'), ['cat', 'dog']);
  assert.deepEqual(parseLabelsText('n01440764 tench, Tinca tinca\nn02012849 crane\nn03126707 crane\n'), ['tench', 'crane (n02012849)', 'crane (n03126707)']);
  assert.throws(() => parseLabelsText('a\nb\na'), (e: unknown) => code('LABELS_DUPLICATE')(e) && /"a"/.test((e as Error).message));
  assert.throws(() => parseLabelsText('a\n\nb'), (e: unknown) => code('LABELS_EMPTY_LINE')(e) && /line 2/.test((e as Error).message));
});

test('readLabelsArg: a file or a comma list; a missing file is named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-labels-'));
  try {
    await writeFile(join(dir, 'l.txt'), 'open door\nclosed, locked\n');
    assert.deepEqual(await readLabelsArg(join(dir, 'l.txt')), ['open door', 'closed, locked']);
    assert.deepEqual(await readLabelsArg('cat, dog,bird'), ['cat', 'dog', 'bird']);
    await assert.rejects(readLabelsArg(join(dir, 'missing.txt')), code('LABELS_NOT_FOUND'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseScale understands fractions and refuses nonsense', () => {
  assert.equal(parseScale('1/255'), 1 / 255);
  assert.equal(parseScale('0.5'), 0.5);
  for (const bad of ['0', '-1', 'abc', '1/0']) assert.throws(() => parseScale(bad), code('WRAP_FLAG'), bad);
});

test('wrapManifest: a valid manifest from the graph, with preset defaults by layout and flags on top', () => {
  const nhwc = wrapManifest(parseOnnx(tinyClassifierOnnx({ layout: 'NHWC', inputSize: 32 })), { ...base, labels: ['a', 'b', 'c'] });
  assert.deepEqual([nhwc.input.layout, nhwc.preprocess.resize, nhwc.preprocess.scale, nhwc.output], ['NHWC', 'squash', 1 / 255, { name: 'probs', kind: 'softmax' }]);
  const nchw = wrapManifest(parseOnnx(tinyClassifierOnnx({ inputSize: 32 })), { ...base, labels: ['a', 'b', 'c'] });
  assert.deepEqual([nchw.preprocess.resize, nchw.preprocess.resizeShorterTo, nchw.preprocess.mean], ['shorter-side-then-center-crop', 37, [0.485, 0.456, 0.406]]);
  const custom = wrapManifest(parseOnnx(tinyClassifierOnnx({ inputSize: 32 })), { ...base, labels: ['a', 'b', 'c'], preset: 'teachable-machine', mean: [0.5], std: [0.2, 0.3, 0.4], scale: 1 / 255, resize: 'contain', colorOrder: 'BGR' });
  assert.deepEqual([custom.preprocess.resize, custom.preprocess.mean, custom.preprocess.std, custom.input.colorOrder, custom.preprocess.resizeShorterTo], ['contain', [0.5, 0.5, 0.5], [0.2, 0.3, 0.4], 'BGR', undefined]);
  for (const m of [nhwc, nchw, custom]) assert.equal(manifestSchema.safeParse({ ...m, sha256: '0'.repeat(64) }).success, true);
});

test('wrapManifest refuses label counts that do not match the output, and bad flags', () => {
  const model = parseOnnx(tinyClassifierOnnx({ labels: 3 }));
  assert.throws(() => wrapManifest(model, { ...base, labels: ['a', 'b'] }), (e: unknown) => code('WRAP_LABELS')(e) && /give exactly 3 labels/.test((e as Error).message));
  assert.throws(() => wrapManifest(model, { ...base, labels: ['a', 'b', 'c'], preset: 'caffe' }), code('PRESET_UNKNOWN'));
  assert.throws(() => wrapManifest(model, { ...base, labels: ['a', 'b', 'c'], mean: [1, 2] }), code('WRAP_FLAG'));
  assert.throws(() => wrapManifest(model, { ...base, labels: ['a', 'b', 'c'], resize: 'stretch' }), code('WRAP_FLAG'));
  assert.throws(() => wrapManifest(model, { ...base, labels: ['a', 'b', 'c'], outputName: 'nope' }), code('WRAP_OUTPUT'));
});
