import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { PreprocessSpec } from '../models/manifest.js';

/**
 * The daemon already computes each frame's embedding while classifying it (transfer models expose it), so the
 * collector files it in the fine-tune embedding cache right away and fine-tuning skips the backbone for every
 * collected frame. The layout is learn/embeddings.ts EmbeddingCache's (<dir>/<key[0:16]>/<sha[0:2]>/<sha>.f32,
 * raw float32); test/collect/embedding-cache.test.ts checks that EmbeddingCache reads what is written here.
 * Written without fsync: the cache is derived data, and a lost or short file is simply recomputed.
 */
/**
 * The cache folder key: the backbone's sha256 mixed with the preprocessing. The same graph fed with another resize
 * or normalisation (a model re-pulled with `--resize squash`, say) gives other embeddings, which must not be read
 * back as these.
 */
export function embeddingCacheKey(backboneSha: string, spec?: PreprocessSpec): string {
  return spec ? createHash('sha256').update(`${backboneSha}\n${JSON.stringify(spec)}`).digest('hex') : backboneSha;
}

export function embeddingCachePath(dir: string, backboneKey: string, imageSha: string): string {
  return join(dir, backboneKey.slice(0, 16), imageSha.slice(0, 2), `${imageSha}.f32`);
}

export async function cacheEmbedding(dir: string, backboneKey: string, image: Uint8Array, embedding: Float32Array): Promise<void> {
  const sha = createHash('sha256').update(image).digest('hex');
  const path = embeddingCachePath(dir, backboneKey, sha);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength));
  await rename(tmp, path);
}
