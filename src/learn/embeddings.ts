import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { embeddingCacheKey } from '../collect/embedding-cache.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PreprocessSpec } from '../models/manifest.js';
import type { OrtClassifier } from '../inference/engine.js';
import { type AugmentOptions, augmentBatch } from './augment.js';
import type { LabelledFile } from './dataset.js';
import type { PreprocessFn, SkippedFile } from './dataset-load.js';
import { DatasetError } from './errors.js';
import { createRng } from './random.js';
import { tidyValues } from './tensor-values.js';

/**
 * Backbone embeddings for transfer learning, through ONNX Runtime (the same graph the composed model
 * runs), cached on disk as raw float32 files keyed by image sha256 + backbone sha256 (+ `mirror`, or the
 * augmentation recipe for augmented copies), so re-training with other head settings skips the backbone entirely.
 */

export class EmbeddingCache {
  /**
   * Layout `<dir>/<key[0:16]>/<sha[0:2]>/<sha>[-variant].f32` (src/collect writes into it too). The key is
   * the backbone sha256, mixed with `spec` when given: the same graph fed with another resize or
   * normalisation gives other embeddings, which must not be read back as these.
   */
  constructor(private readonly dir: string, private readonly backboneSha: string, private readonly size: number, private readonly spec?: PreprocessSpec) {}

  private path(imageSha: string, variant: string): string {
    const key = embeddingCacheKey(this.backboneSha, this.spec);
    return join(this.dir, key.slice(0, 16), imageSha.slice(0, 2), `${imageSha}${variant ? `-${variant}` : ''}.f32`);
  }

  async get(imageSha: string, variant = ''): Promise<Float32Array | undefined> {
    const bytes = await readFile(this.path(imageSha, variant)).catch(() => undefined);
    if (!bytes || bytes.byteLength !== this.size * 4) return undefined;
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  /** Write-then-rename, so a crash never leaves a short file that later reads as a wrong embedding. */
  async put(imageSha: string, variant: string, embedding: Float32Array): Promise<void> {
    const path = this.path(imageSha, variant);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, new Uint8Array(embedding.buffer, embedding.byteOffset, embedding.byteLength));
    await rename(tmp, path);
  }
}

export interface EmbeddedSet {
  /** N × size floats. */
  x: Float32Array;
  y: Int32Array;
  files: string[];
  sha256: string[];
  skipped: SkippedFile[];
  /** How many embeddings came from the cache vs. ran through the backbone. */
  cached: number;
  computed: number;
}

export interface EmbedDeps {
  logger: Logger;
  preprocess: PreprocessFn;
  backbone: OrtClassifier;
  cache: EmbeddingCache;
  onProgress?: (done: number, total: number) => void;
}

export interface EmbedOptions {
  spec: PreprocessSpec;
  size: number;
  batchSize?: number;
  /**
   * Also embed each file's horizontal mirror (a fixed flip of the preprocessed tensor, not a random one), as the
   * row after the plain one; cached as variant MIRROR_VARIANT. The image is decoded once for both.
   */
  mirror?: boolean;
  /** Augmented copies per file (0 = the plain embedding only). */
  copies?: number;
  augment?: AugmentOptions;
  seed?: number;
}

/** Cache variant of the mirrored embedding: deterministic, so one name; never '' (the plain one). */
export const MIRROR_VARIANT = 'mirror';

/**
 * The image flipped left-right, on the preprocessed tensor (one image, NCHW or NHWC, 3 channels): for the
 * symmetric resizes (squash, centre crop) this is the tensor of the mirrored photo, without a second decode.
 */
export function mirrorTensor(data: Float32Array, layout: 'NCHW' | 'NHWC', height: number, width: number): Float32Array {
  const out = new Float32Array(data.length);
  if (layout === 'NCHW') {
    for (let row = 0; row < 3 * height; row++) {
      const base = row * width;
      for (let x = 0; x < width; x++) out[base + x] = data[base + width - 1 - x]!;
    }
  } else {
    for (let y = 0; y < height; y++) {
      const base = y * width * 3;
      for (let x = 0; x < width; x++) out.set(data.subarray(base + (width - 1 - x) * 3, base + (width - x) * 3), base + x * 3);
    }
  }
  return out;
}

/** Per file, in row order: the plain embedding, the mirror when asked, then the augmented copies. */
function variantsOf(o: EmbedOptions, copies: number): string[] {
  return ['', ...(o.mirror ? [MIRROR_VARIANT] : []), ...Array.from({ length: copies }, (_, i) => augmentedKey(o, i + 1))];
}

/** A cache key suffix that changes whenever the augmented pixels would. */
function augmentedKey(o: EmbedOptions, copy: number): string {
  const recipe = createHash('sha256').update(JSON.stringify({ a: o.augment, s: o.seed, spec: o.spec })).digest('hex').slice(0, 12);
  return `aug${copy}-${recipe}`;
}

/** NCHW ↔ NHWC around the tf augmentation, which works on NHWC. */
function augmentTensor(data: Float32Array, dims: number[], o: EmbedOptions, seed: number): Float32Array {
  return tidyValues(() => {
    let x = tf.tensor4d(data, dims as [number, number, number, number]);
    if (o.spec.layout === 'NCHW') x = x.transpose([0, 2, 3, 1]);
    const out = augmentBatch(x, o.augment!, o.spec, createRng(seed));
    return o.spec.layout === 'NCHW' ? out.transpose([0, 3, 1, 2]) : out;
  });
}

interface Pending { index: number; sha: string; variant: string; tensor: Float32Array }

/** Embeds every file (and its mirror and augmented copies); unreadable images are reported and skipped. */
export async function embedFiles(deps: EmbedDeps, files: LabelledFile[], o: EmbedOptions): Promise<EmbeddedSet> {
  const copies = o.augment ? (o.copies ?? 0) : 0;
  const variants = variantsOf(o, copies);
  const perFile = variants.length;
  const batchSize = o.batchSize ?? 16;
  const results: (Float32Array | undefined)[] = new Array(files.length * perFile);
  const shas: string[] = new Array(files.length);
  const skipped: SkippedFile[] = [];
  const hits = new Uint16Array(files.length);
  let pending: Pending[] = [];
  const [h, w] = o.spec.size;
  const dims1 = o.spec.layout === 'NCHW' ? [1, 3, h, w] : [1, h, w, 3];
  const tensorOf = (variant: string, plain: Float32Array, f: number, c: number): Float32Array => {
    if (variant === '') return plain;
    if (variant === MIRROR_VARIANT) return mirrorTensor(plain, o.spec.layout, h, w);
    // The seed formula predates the mirror row: augmented copy k keeps its seed (and so its cached pixels).
    const copy = c - (o.mirror ? 1 : 0);
    return augmentTensor(plain, dims1, o, (o.seed ?? 0) * 1_000_003 + f * 131 + copy);
  };

  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const sampleSize = 3 * h * w;
    const batch = new Float32Array(pending.length * sampleSize);
    pending.forEach((p, i) => batch.set(p.tensor, i * sampleSize));
    const out = await deps.backbone.classifyBatch({ data: batch, dims: [pending.length, ...dims1.slice(1)] });
    for (let i = 0; i < pending.length; i++) {
      const emb = out[i]!.embedding;
      if (!emb || emb.length !== o.size) throw new DatasetError('BACKBONE_NO_EMBEDDING', `the backbone returned no ${o.size}-wide embedding; prepare it with \`edgecam backbone prepare\``);
      const copy = Float32Array.from(emb);
      results[pending[i]!.index] = copy;
      await deps.cache.put(pending[i]!.sha, pending[i]!.variant, copy);
    }
    pending = [];
  };

  for (let f = 0; f < files.length; f++) {
    const file = files[f]!;
    let bytes: Buffer;
    try {
      bytes = await readFile(file.path);
    } catch (err) {
      skipped.push({ path: file.path, reason: errorMessage(err) });
      continue;
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    shas[f] = sha;
    let plain: Float32Array | undefined;
    for (let c = 0; c < perFile; c++) {
      const variant = variants[c]!;
      const hit = await deps.cache.get(sha, variant);
      if (hit) { results[f * perFile + c] = hit; hits[f]!++; continue; }
      try {
        plain ??= (await deps.preprocess(bytes, o.spec)).data;
      } catch (err) {
        skipped.push({ path: file.path, reason: errorMessage(err) });
        deps.logger.warn({ file: file.path, err: errorMessage(err) }, 'skipping an image that cannot be decoded');
        break;
      }
      pending.push({ index: f * perFile + c, sha, variant, tensor: tensorOf(variant, plain, f, c) });
      if (pending.length >= batchSize) await flush();
    }
    deps.onProgress?.(f + 1, files.length);
  }
  await flush();

  const skippedPaths = new Set(skipped.map((s) => s.path));
  const kept = files.map((file, f) => ({ file, f })).filter((e) => !skippedPaths.has(e.file.path));
  const x = new Float32Array(kept.length * perFile * o.size);
  const y = new Int32Array(kept.length * perFile);
  let row = 0;
  let cached = 0;
  for (const { file, f } of kept) {
    cached += hits[f]!;
    for (let c = 0; c < perFile; c++, row++) {
      x.set(results[f * perFile + c]!, row * o.size);
      y[row] = file.label;
    }
  }
  return {
    x, y,
    files: kept.flatMap((e) => new Array<string>(perFile).fill(e.file.path)),
    sha256: kept.flatMap((e) => new Array<string>(perFile).fill(shas[e.f]!)),
    skipped, cached, computed: kept.length * perFile - cached,
  };
}
