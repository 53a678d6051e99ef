import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { silentLogger } from '../../src/logger.js';
import { manifestSchema, type Manifest, type PreprocessSpec } from '../../src/models/manifest.js';
import type { Classifier } from '../../src/inference/types.js';
import { FramePipeline, type FrameResult } from '../../src/pipeline/runner.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import type { Frame, Tensor } from '../../src/types.js';
import { FakeClock } from '../fakes/clock.js';

function manifest(name: string, size = 8): Manifest {
  return manifestSchema.parse({
    name, version: '1', created: '2024-01-01T00:00:00Z', labels: ['cat', 'none'],
    input: { name: 'input', shape: [1, 3, size, size], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
    preprocess: { resize: 'squash', size: [size, size], scale: 1 / 255 },
    output: { name: 'output', kind: 'probabilities' }, sha256: '0'.repeat(64),
  });
}

interface Deferred { resolve: () => void; reject: (e: Error) => void }

/** A classifier whose every call waits until the test releases it: "slow inference" without sleeping. */
class GatedClassifier implements Classifier {
  readonly provider = 'cpu' as const;
  readonly calls: Tensor[] = [];
  readonly gates: Deferred[] = [];
  disposed = false;
  constructor(readonly manifest: Manifest) {}
  classify(input: Tensor) {
    this.calls.push(input);
    return new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject })).then(() => ({ scores: { labels: this.manifest.labels, probabilities: [input.data[0], 1 - input.data[0]] }, latencyMs: 1 }));
  }
  async dispose() { this.disposed = true; }
}

/** A preprocess stand-in that encodes the frame's seq into the tensor, so results show which frame went through. */
async function tagPreprocess(bytes: Uint8Array, spec: PreprocessSpec): Promise<Tensor> {
  if (bytes[0] === 0xff && bytes[1] === 0x00) throw new Error('corrupt image');
  return { data: Float32Array.from([bytes[0] / 100, spec.size[0]]), dims: [1, 2] };
}

const frame = (seq: number): Frame => ({ data: Buffer.from([seq]), timestamp: seq, seq });
const tick = () => new Promise((r) => setImmediate(r));
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await tick();
  assert.ok(cond(), 'condition never became true');
}

function setup(classifier: Classifier, preprocess = tagPreprocess) {
  const results: FrameResult[] = [];
  const pipeline = new FramePipeline({ logger: silentLogger(), clock: new FakeClock(), preprocess }, { classifier, onResult: (r) => results.push(r) });
  return { pipeline, results };
}

test('slow inference: newer frames replace the waiting one, drops are counted, the newest frame wins', async () => {
  const model = new GatedClassifier(manifest('a'));
  const { pipeline, results } = setup(model);
  await pipeline.start();
  pipeline.push(frame(1));
  await until(() => model.calls.length === 1); // frame 1 in the model
  pipeline.push(frame(2));
  await until(() => pipeline.preprocessLatency.size === 2); // frame 2 prepared while 1 is classified (overlap)
  for (let seq = 3; seq <= 10; seq++) pipeline.push(frame(seq)); // 3..9 replaced in turn by 10
  assert.deepEqual({ ...pipeline.counters }, { captured: 10, classified: 0, dropped: 7, failed: 0 });
  model.gates[0].resolve();
  await until(() => model.calls.length === 2);
  model.gates[1].resolve();
  await until(() => model.calls.length === 3);
  model.gates[2].resolve();
  await pipeline.idle();
  assert.deepEqual(results.map((r) => r.frame.seq), [1, 2, 10]);
  assert.deepEqual({ ...pipeline.counters }, { captured: 10, classified: 3, dropped: 7, failed: 0 });
  assert.equal(pipeline.counters.captured, pipeline.counters.classified + pipeline.counters.dropped + pipeline.counters.failed);
  assert.equal(pipeline.totalLatency.size, 3);
  await pipeline.stop();
});

test('a fast model drops nothing: every frame is classified in order', async () => {
  const instant: Classifier = { manifest: manifest('fast'), provider: 'cpu', classify: async (t) => ({ scores: { labels: ['cat', 'none'], probabilities: [t.data[0], 0] }, latencyMs: 0 }), dispose: async () => {} };
  const { pipeline, results } = setup(instant);
  await pipeline.start();
  for (let seq = 1; seq <= 20; seq++) {
    pipeline.push(frame(seq));
    await pipeline.idle();
  }
  assert.deepEqual(results.map((r) => r.frame.seq), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.equal(pipeline.counters.dropped, 0);
  await pipeline.stop();
});

test('corrupt images and model errors are counted and skipped, never thrown', async () => {
  const model = new GatedClassifier(manifest('a'));
  const { pipeline, results } = setup(model, async (bytes, spec) => {
    if (bytes[0] === 2) throw new Error('Input buffer contains unsupported image format');
    return tagPreprocess(bytes, spec);
  });
  await pipeline.start();
  pipeline.push(frame(2)); // corrupt
  await pipeline.idle();
  pipeline.push(frame(3)); // model fails
  await until(() => model.gates.length === 1);
  model.gates[0].reject(new Error('ORT: invalid dimensions'));
  await pipeline.idle();
  pipeline.push(frame(4));
  await until(() => model.gates.length === 2);
  model.gates[1].resolve();
  await pipeline.idle();
  assert.deepEqual(results.map((r) => r.frame.seq), [4]);
  assert.deepEqual({ ...pipeline.counters }, { captured: 3, classified: 1, dropped: 0, failed: 2 });
  await pipeline.stop();
});

test('swapClassifier: the frame in the model finishes on the old model, nothing is dropped, old is released after', async () => {
  const oldModel = new GatedClassifier(manifest('old', 8));
  const newModel = new GatedClassifier(manifest('new', 16));
  const { pipeline, results } = setup(oldModel);
  await pipeline.start();
  pipeline.push(frame(1));
  await until(() => oldModel.calls.length === 1);
  pipeline.push(frame(2));
  await until(() => pipeline.preprocessLatency.size === 2); // frame 2 prepared with the old recipe (size 8)
  let released: Classifier | undefined;
  const swap = pipeline.swapClassifier(newModel).then((c) => { released = c; });
  pipeline.push(frame(3));
  await tick();
  assert.equal(released, undefined, 'old model still busy with frame 1');
  oldModel.gates[0].resolve();
  await swap;
  assert.equal(released, oldModel);
  await until(() => newModel.calls.length === 1);
  assert.equal(newModel.calls[0].data[1], 16, 'frame 2 was prepared again with the new model recipe');
  newModel.gates[0].resolve();
  await until(() => newModel.calls.length === 2);
  newModel.gates[1].resolve();
  await pipeline.idle();
  assert.deepEqual(results.map((r) => [r.frame.seq, r.classifier.manifest.name]), [[1, 'old'], [2, 'new'], [3, 'new']]);
  assert.deepEqual({ ...pipeline.counters }, { captured: 3, classified: 3, dropped: 0, failed: 0 });
  assert.equal(oldModel.calls.length, 1);
  await pipeline.stop();
});

test('real preprocessing with sharp: a corrupt JPEG fails one frame, a good one goes through', async () => {
  const jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 200, g: 10, b: 10 } } }).jpeg().toBuffer();
  const seen: Tensor[] = [];
  const model: Classifier = { manifest: manifest('real'), provider: 'cpu', classify: async (t) => { seen.push(t); return { scores: { labels: ['cat', 'none'], probabilities: [0.9, 0.1] }, latencyMs: 0.5 }; }, dispose: async () => {} };
  const { pipeline, results } = setup(model, preprocessImage);
  await pipeline.start();
  pipeline.push({ data: jpeg.subarray(0, 40), timestamp: 1, seq: 1 });
  await pipeline.idle();
  pipeline.push({ data: jpeg, timestamp: 2, seq: 2 });
  await pipeline.idle();
  assert.equal(pipeline.counters.failed, 1);
  assert.deepEqual(results.map((r) => r.frame.seq), [2]);
  assert.deepEqual(seen[0].dims, [1, 3, 8, 8]);
  assert.ok(Math.abs(seen[0].data[0] - 200 / 255) < 0.03, `red channel ${seen[0].data[0]}`);
  await pipeline.stop();
});

test('stop() twice is safe and later frames are ignored', async () => {
  const model = new GatedClassifier(manifest('a'));
  const { pipeline } = setup(model);
  await pipeline.start();
  await pipeline.stop();
  await pipeline.stop();
  pipeline.push(frame(1));
  assert.equal(pipeline.counters.captured, 0);
});
