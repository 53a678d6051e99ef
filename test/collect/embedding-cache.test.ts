import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheEmbedding } from '../../src/collect/embedding-cache.js';
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
