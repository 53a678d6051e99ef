import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { PreprocessSpec } from '../models/manifest.js';
import type { Tensor } from '../types.js';
import { errorMessage } from '../errors.js';
import { DatasetError } from './errors.js';
import type { LabelledFile } from './dataset.js';

/** The shared preprocessing (src/preprocess/image.ts): the exact function serving uses, so training sees what the daemon sees. */
export type PreprocessFn = (bytes: Buffer, spec: PreprocessSpec) => Promise<Tensor>;

export interface SkippedFile {
  path: string;
  reason: string;
}

/** Preprocessed images of one split, held in memory for the whole run (one decode per file per run). */
export interface LoadedImages {
  /** N consecutive tensors of `sampleSize` floats each, in the spec's layout. */
  data: Float32Array;
  /** Per-sample dims without the batch dimension, e.g. [64, 64, 3] for NHWC. */
  sampleDims: number[];
  labels: Int32Array;
  files: string[];
  /** sha256 of each file's bytes (the embedding cache key). */
  sha256: string[];
  skipped: SkippedFile[];
}

export interface LoadImagesDeps {
  logger: Logger;
  preprocess: PreprocessFn;
  /** Called after each file, for a progress bar. */
  onProgress?: (done: number, total: number) => void;
}

async function loadOne(file: LabelledFile, spec: PreprocessSpec, preprocess: PreprocessFn): Promise<{ tensor: Tensor; sha: string }> {
  const bytes = await readFile(file.path);
  const tensor = await preprocess(bytes, spec);
  return { tensor, sha: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Decodes and preprocesses every file. A file that does not decode is logged, listed in `skipped` and
 * left out: one truncated JPEG in a folder of hundreds must not stop a training run.
 */
export async function loadImages(deps: LoadImagesDeps, files: LabelledFile[], spec: PreprocessSpec, concurrency = 4): Promise<LoadedImages> {
  const results: ({ tensor: Tensor; sha: string } | undefined)[] = new Array(files.length);
  const skipped: SkippedFile[] = [];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const file = files[i]!;
      try {
        results[i] = await loadOne(file, spec, deps.preprocess);
      } catch (err) {
        skipped.push({ path: file.path, reason: errorMessage(err) });
        deps.logger.warn({ file: file.path, err: errorMessage(err) }, 'skipping an image that cannot be decoded');
      }
      deps.onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));

  const kept = files.map((f, i) => ({ f, r: results[i] })).filter((e): e is { f: LabelledFile; r: { tensor: Tensor; sha: string } } => e.r !== undefined);
  if (kept.length === 0 && files.length > 0) {
    throw new DatasetError('DATASET_NO_READABLE_IMAGES', `None of the ${files.length} images could be decoded (first problem: ${skipped[0]?.path}: ${skipped[0]?.reason}).`);
  }
  const sampleDims = kept[0]?.r.tensor.dims.slice(1) ?? [];
  const sampleSize = sampleDims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(kept.length * sampleSize);
  kept.forEach((e, i) => {
    if (e.r.tensor.data.length !== sampleSize) {
      throw new DatasetError('DATASET_SHAPE_MISMATCH', `Preprocessing ${e.f.path} gave ${e.r.tensor.data.length} values, expected ${sampleSize}.`);
    }
    data.set(e.r.tensor.data, i * sampleSize);
  });
  skipped.sort((a, b) => a.path.localeCompare(b.path));
  return {
    data,
    sampleDims,
    labels: Int32Array.from(kept.map((e) => e.f.label)),
    files: kept.map((e) => e.f.path),
    sha256: kept.map((e) => e.r.sha),
    skipped,
  };
}
