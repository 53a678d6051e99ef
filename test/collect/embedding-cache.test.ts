import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheEmbedding, embeddingCacheKey } from '../../src/collect/embedding-cache.js';
import type { PreprocessSpec } from '../../src/models/manifest.js';
import { EmbeddingCache } from '../../src/learn/embeddings.js';

test('embeddings the daemon files at collection time are what the fine-tune cache reads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-embcache-'));
  const image = Buffer.from('pretend jpeg bytes');
  const values = Float32Array.from({ length: 16 }, (_, i) => i / 7);
  const key = 'ab'.repeat(32);
  await cacheEmbedding(dir, key, image, values);
  const sha = createHash('sha256').update(image).digest('hex');
  assert.deepEqual(await new EmbeddingCache(dir, key, 16).get(sha), values);
  assert.equal(await new EmbeddingCache(dir, 'cd'.repeat(32), 16).get(sha), undefined, 'another backbone, another key');
  assert.equal(await new EmbeddingCache(dir, key, 32).get(sha), undefined, 'a wrong width is a miss, not a wrong vector');
  await rm(dir, { recursive: true, force: true });
});

test('the cache key includes the preprocessing: a backbone re-pulled with another resize does not read the old embeddings', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-embcache-'));
  const image = Buffer.from('pretend jpeg bytes');
  const values = Float32Array.from({ length: 8 }, (_, i) => i);
  const backbone = 'ef'.repeat(32);
  const crop: PreprocessSpec = { resize: 'shorter-side-then-center-crop', size: [224, 224], scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], padColor: [0, 0, 0], layout: 'NCHW', colorOrder: 'RGB' };
  const squash: PreprocessSpec = { ...crop, resize: 'squash' };
  // What the daemon files (daemon-hook: embeddingCacheKey(backbone, spec)) is what the fine-tune reads (EmbeddingCache with the spec).
  await cacheEmbedding(dir, embeddingCacheKey(backbone, crop), image, values);
  const sha = createHash('sha256').update(image).digest('hex');
  assert.deepEqual(await new EmbeddingCache(dir, backbone, 8, crop).get(sha), values);
  assert.equal(await new EmbeddingCache(dir, backbone, 8, squash).get(sha), undefined, 'same graph, other resize: a miss');
  assert.notEqual(embeddingCacheKey(backbone, crop), embeddingCacheKey(backbone, squash));
  await rm(dir, { recursive: true, force: true });
});
