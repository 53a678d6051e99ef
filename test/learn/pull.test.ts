import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEAD_FILE, headFileFrom } from '../../src/learn/head-file.js';
import { fetchPinned, pullModel, PINNED_BACKBONES, type FetchFn, type PinnedBackbone } from '../../src/learn/pull.js';
import { createClassifier } from '../../src/inference/engine.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder, validateManifest } from '../../src/models/folder.js';
import { sha256Hex } from '../../src/models/sha256.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';

const bytesOf = (s: string) => new TextEncoder().encode(s);
function fakeFetch(responses: Record<string, Uint8Array | number>, seen: string[]): FetchFn {
  return async (url) => {
    seen.push(url);
    const r = responses[url];
    if (r === undefined) throw new Error('getaddrinfo ENOTFOUND');
    return { ok: typeof r !== 'number', status: typeof r === 'number' ? r : 200, arrayBuffer: async () => (typeof r === 'number' ? new ArrayBuffer(0) : r.slice().buffer) };
  };
}

test('fetchPinned tries each pinned URL in order and accepts only bytes with the pinned sha256', async () => {
  const good = bytesOf('the real model');
  const pin: PinnedBackbone = { file: 'm.onnx', bytes: good.length, sha256: sha256Hex(good), urls: ['https://a/m', 'https://b/m', 'https://c/m', 'https://d/m'], license: 'x', description: 'x' };
  const seen: string[] = [];
  const got = await fetchPinned({ logger: silentLogger(), fetch: fakeFetch({ 'https://a/m': 404, 'https://b/m': bytesOf('tampered'), 'https://d/m': good }, seen) }, pin);
  assert.deepEqual(Array.from(got), Array.from(good));
  assert.deepEqual(seen, pin.urls);
  await assert.rejects(fetchPinned({ logger: silentLogger(), fetch: fakeFetch({}, []) }, pin),
    (e: Error & { code?: string }) => e.code === 'PULL_FAILED' && /--file/.test(e.message) && /ENOTFOUND/.test(e.message));
});

test('the MobileNetV2 pin matches shared/models/MODELS.md', () => {
  const p = PINNED_BACKBONES.mobilenetv2!;
  assert.equal(p.sha256, 'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f');
  assert.equal(p.bytes, 3_655_033);
  assert.ok(p.urls.every((u) => u.startsWith('https://') && /[0-9a-f]{40}/.test(u)), 'every URL pins a commit');
});

test('pull --file with --head composes one runnable model; a file with another sha256 is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-pull-'));
  try {
    const fixture = tinyImagenetLikeOnnx({ inputSize: 16, embeddingSize: 8, quantized: true });
    await writeFile(join(dir, 'tiny.onnx'), fixture.bytes);
    const pin: PinnedBackbone = { file: 'tiny.onnx', bytes: fixture.bytes.length, sha256: sha256Hex(fixture.bytes), urls: [], license: 'test', description: 'tiny' };
    PINNED_BACKBONES.tinytest = pin;
    // A head trained "on" this backbone: hand-set weights, 8 → 2.
    const prepared = await prepareBackbone(fixture.bytes, { name: 'tinytest', created: new Date().toISOString(), source: pin.file });
    const backboneManifest = validateManifest({ ...prepared.manifest, sha256: sha256Hex(prepared.modelBytes) });
    const weights = Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 1 : -1) * (i + 1) / 10);
    const head = headFileFrom({ name: 'pets-head', version: '7', created: new Date().toISOString(), labels: ['a', 'b'], backbone: backboneManifest,
      layers: [{ weights, bias: new Float32Array([0.1, -0.1]), inDim: 8, outDim: 2, activation: 'softmax' }] });
    await mkdir(join(dir, 'head'));
    await writeFile(join(dir, 'head', HEAD_FILE), JSON.stringify(head));

    const { folder, composed } = await pullModel({ logger: silentLogger() }, { name: 'tinytest', out: join(dir, 'full'), file: join(dir, 'tiny.onnx'), head: join(dir, 'head') });
    assert.equal(composed, true);
    const loaded = await loadModelFolder(folder.dir);
    assert.deepEqual(loaded.manifest.labels, ['a', 'b']);
    assert.equal(loaded.manifest.version, '7');
    const c = await createClassifier({ logger: silentLogger() }, { folder: loaded, providers: ['cpu'] });
    try {
      const r = await c.classify({ data: new Float32Array(3 * 16 * 16).fill(0.5), dims: [1, 3, 16, 16] });
      const logits = [0, 1].map((j) => r.embedding!.reduce((s, x, i) => s + x * weights[i * 2 + j]!, j ? -0.1 : 0.1));
      const e = logits.map((l) => Math.exp(l - Math.max(...logits)));
      r.scores.probabilities.forEach((p, j) => assert.ok(Math.abs(p - e[j]! / (e[0]! + e[1]!)) < 1e-5));
    } finally {
      await c.dispose();
    }

    await writeFile(join(dir, 'other.onnx'), tinyImagenetLikeOnnx({ inputSize: 16, embeddingSize: 8, seed: 99 }).bytes);
    await assert.rejects(pullModel({ logger: silentLogger() }, { name: 'tinytest', out: join(dir, 'x'), file: join(dir, 'other.onnx') }),
      (e: Error & { code?: string }) => e.code === 'PULL_SHA_MISMATCH');
    await assert.rejects(pullModel({ logger: silentLogger() }, { name: 'nope', out: join(dir, 'y') }), (e: Error & { code?: string }) => e.code === 'PULL_UNKNOWN_MODEL');
  } finally {
    delete PINNED_BACKBONES.tinytest;
    await rm(dir, { recursive: true, force: true });
  }
});

test("pull --head bakes in the head's test-time views (head.json records them); asking for other views is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-pull-views-'));
  try {
    const fixture = tinyImagenetLikeOnnx({ inputSize: 40, embeddingSize: 8 });
    await writeFile(join(dir, 'tiny.onnx'), fixture.bytes);
    PINNED_BACKBONES.tinyviews = { file: 'tiny.onnx', bytes: fixture.bytes.length, sha256: sha256Hex(fixture.bytes), urls: [], license: 'test', description: 'tiny' };
    const views = { scales: [32, 40] };
    const prepared = await prepareBackbone(fixture.bytes, { name: 'tinyviews', created: new Date().toISOString(), source: 'tiny.onnx', views });
    const head = headFileFrom({ name: 'h', version: '1', created: new Date().toISOString(), labels: ['a', 'b'], backbone: validateManifest({ ...prepared.manifest, sha256: sha256Hex(prepared.modelBytes) }),
      layers: [{ weights: new Float32Array(16).fill(0.1), bias: new Float32Array(2), inDim: 8, outDim: 2, activation: 'softmax' }] });
    assert.deepEqual(head.backbone.views, views);
    await mkdir(join(dir, 'head'));
    await writeFile(join(dir, 'head', HEAD_FILE), JSON.stringify(head));
    const base = { name: 'tinyviews', file: join(dir, 'tiny.onnx'), head: join(dir, 'head') };
    const { folder } = await pullModel({ logger: silentLogger() }, { ...base, out: join(dir, 'full') });
    assert.deepEqual(folder.manifest.output.views, views);
    assert.deepEqual(folder.manifest.preprocess.size, [40, 40]);
    assert.equal((await loadModelFolder(folder.dir)).manifest.output.views?.scales?.length, 2);
    // The same views asked for explicitly are fine; others would give the head features it was not trained on.
    await pullModel({ logger: silentLogger() }, { ...base, out: join(dir, 'same'), views: { scales: [40, 32] } });
    await assert.rejects(pullModel({ logger: silentLogger() }, { ...base, out: join(dir, 'other'), views: { scales: [32, 40], mirror: true } }),
      (e: Error & { code?: string }) => e.code === 'HEAD_VIEWS_MISMATCH' && /drop --tta-scales/.test(e.message));
  } finally {
    delete PINNED_BACKBONES.tinyviews;
    await rm(dir, { recursive: true, force: true });
  }
});
