import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { cacheEmbedding } from '../../src/collect/embedding-cache.js';
import { EmbeddingCache, embedFiles, mirrorTensor, MIRROR_VARIANT } from '../../src/learn/embeddings.js';
import { createClassifier, type OrtClassifier } from '../../src/inference/engine.js';
import { sha256Hex, validateManifest } from '../../src/models/folder.js';
import { preprocessSpecOf } from '../../src/models/manifest.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { silentLogger } from '../../src/logger.js';
import { tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { colourImage } from './synthetic.js';

const logger = silentLogger();

test('mirrorTensor flips each row left-right, in both layouts, and nothing else', () => {
  // 2 rows × 3 columns × 3 channels; value = 100·channel + 10·row + column.
  const nchw = Float32Array.from({ length: 18 }, (_, i) => 100 * Math.floor(i / 6) + 10 * Math.floor((i % 6) / 3) + (i % 3));
  assert.deepEqual(Array.from(mirrorTensor(nchw, 'NCHW', 2, 3)), [2, 1, 0, 12, 11, 10, 102, 101, 100, 112, 111, 110, 202, 201, 200, 212, 211, 210]);
  const nhwc = Float32Array.from({ length: 18 }, (_, i) => 100 * (i % 3) + 10 * Math.floor(i / 9) + Math.floor((i % 9) / 3));
  assert.deepEqual(Array.from(mirrorTensor(nhwc, 'NHWC', 2, 3)), [2, 102, 202, 1, 101, 201, 0, 100, 200, 12, 112, 212, 11, 111, 211, 10, 110, 210]);
  assert.deepEqual(mirrorTensor(mirrorTensor(nchw, 'NCHW', 2, 3), 'NCHW', 2, 3), nchw, 'twice is the identity');
});

async function tinyBackbone(): Promise<{ classifier: OrtClassifier; key: string; size: number }> {
  const tiny = tinyImagenetLikeOnnx({ inputSize: 16, embeddingSize: 8, seed: 3 });
  const prepared = await prepareBackbone(tiny.bytes, { name: 'tiny-backbone', created: '2024-01-01T00:00:00.000Z', preset: 'keras', resize: 'squash' });
  const folder = { dir: '(test)', modelBytes: prepared.modelBytes, manifest: validateManifest({ ...prepared.manifest, sha256: sha256Hex(prepared.modelBytes) }) };
  return { classifier: await createClassifier({ logger }, { folder, providers: ['cpu'] }), key: folder.manifest.sha256, size: 8 };
}

/** A temp folder and the tiny backbone for one test; both cleaned up however the test ends. */
async function withTinyBackbone(body: (t: { dir: string; classifier: OrtClassifier; key: string; size: number }) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-mirror-'));
  const backbone = await tinyBackbone();
  try {
    await body({ dir, ...backbone });
  } finally {
    await backbone.classifier.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

async function embeddingOf(classifier: OrtClassifier, image: Buffer): Promise<Float32Array> {
  const out = await classifier.classify(await preprocessImage(image, preprocessSpecOf(classifier.manifest)));
  return Float32Array.from(out.embedding!);
}

function assertClose(got: Float32Array, want: Float32Array, tolerance: number, what: string): void {
  assert.equal(got.length, want.length, what);
  const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]!)));
  assert.ok(worst <= tolerance, `${what}: differs by ${worst}`);
}

test('the mirror row is the backbone run on the mirrored photo; cached under its own key beside the plain one', async () => {
  await withTinyBackbone(async ({ dir, classifier, key, size }) => {
  const files: { path: string; label: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const path = join(dir, `f${i}.png`);
    await writeFile(path, await colourImage([200, 40 * i, 40], 16, 11 + i));
    files.push({ path, label: i % 2 });
  }
  const cache = new EmbeddingCache(join(dir, 'cache'), key, size);
  const spec = preprocessSpecOf(classifier.manifest);
  const set = await embedFiles({ logger, preprocess: preprocessImage, backbone: classifier, cache }, files, { spec, size, mirror: true });
  assert.equal(set.y.length, 6, 'two rows per file');
  assert.deepEqual(Array.from(set.y), [0, 0, 1, 1, 0, 0]);
  assert.equal(set.computed, 6);
  for (let i = 0; i < files.length; i++) {
    const bytes = await readFile(files[i]!.path);
    const plain = set.x.slice(2 * i * size, (2 * i + 1) * size);
    const mirror = set.x.slice((2 * i + 1) * size, (2 * i + 2) * size);
    // Independent of mirrorTensor: sharp flops the photo, the usual preprocessing feeds ONNX Runtime.
    assertClose(plain, await embeddingOf(classifier, bytes), 1e-5, `plain ${i}`);
    assertClose(mirror, await embeddingOf(classifier, await sharp(bytes).flop().png().toBuffer()), 1e-5, `mirror ${i}`);
    assert.ok(Math.max(...Array.from(mirror, (v, k) => Math.abs(v - plain[k]!))) > 1e-3, 'the photo is not symmetric, so its mirror embeds differently');
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.deepEqual(await cache.get(sha), plain);
    assert.deepEqual(await cache.get(sha, MIRROR_VARIANT), mirror);
  }
  const again = await embedFiles({ logger, preprocess: preprocessImage, backbone: classifier, cache }, files, { spec, size, mirror: true });
  assert.deepEqual({ cached: again.cached, computed: again.computed }, { cached: 6, computed: 0 });
  assert.deepEqual(again.x, set.x);
  const plainOnly = await embedFiles({ logger, preprocess: preprocessImage, backbone: classifier, cache }, files, { spec, size });
  assert.equal(plainOnly.y.length, 3, 'no mirror rows unless asked');
  });
});

test('a photo that needs resizing: the mirror row matches the flopped photo through the real resize', async () => {
  await withTinyBackbone(async ({ dir, classifier, key, size }) => {
  const path = join(dir, 'wide.png');
  const bytes = await sharp(await colourImage([40, 180, 60], 40, 5)).resize(40, 24, { fit: 'fill' }).png().toBuffer();
  await writeFile(path, bytes);
  const set = await embedFiles({ logger, preprocess: preprocessImage, backbone: classifier, cache: new EmbeddingCache(join(dir, 'cache'), key, size) },
    [{ path, label: 0 }], { spec: preprocessSpecOf(classifier.manifest), size, mirror: true });
  // Squash resizing is symmetric, so flipping the tensor after it is flipping the photo before it (sharp: exactly).
  assertClose(set.x.slice(size), await embeddingOf(classifier, await sharp(bytes).flop().png().toBuffer()), 1e-4, 'mirror of a resized photo');
  assertClose(set.x.slice(0, size), await embeddingOf(classifier, bytes), 1e-4, 'plain row of a resized photo');
  });
});

test('frames whose plain embedding the daemon filed: only the mirror runs through the backbone', async () => {
  await withTinyBackbone(async ({ dir, classifier, key, size }) => {
  const path = join(dir, 'kept.png');
  const bytes = await colourImage([40, 60, 200], 16, 9);
  await writeFile(path, bytes);
  const filed = Float32Array.from({ length: size }, (_, i) => i + 0.5); // not what the backbone says: proves it was read
  await cacheEmbedding(join(dir, 'cache'), key, bytes, filed);
  let decoded = 0;
  const preprocess: typeof preprocessImage = async (b, s) => { decoded++; return preprocessImage(b, s); };
  const set = await embedFiles({ logger, preprocess, backbone: classifier, cache: new EmbeddingCache(join(dir, 'cache'), key, size) },
    [{ path, label: 0 }], { spec: preprocessSpecOf(classifier.manifest), size, mirror: true });
  assert.deepEqual({ cached: set.cached, computed: set.computed, decoded }, { cached: 1, computed: 1, decoded: 1 });
  assert.deepEqual(set.x.slice(0, size), filed);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const names = (await readdir(join(dir, 'cache', key.slice(0, 16), sha.slice(0, 2)))).sort();
  assert.deepEqual(names, [`${sha}-${MIRROR_VARIANT}.f32`, `${sha}.f32`]);
  });
});
