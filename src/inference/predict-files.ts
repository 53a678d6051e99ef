import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { EdgecamError, errorMessage } from '../errors.js';
import { preprocessSpecOf } from '../models/manifest.js';
import { preprocessImage } from '../preprocess/image.js';
import { topK, type RankedScore } from '../postprocess/scores.js';
import type { Classifier } from './types.js';

/**
 * Classify image files one by one, like the Keras tutorials' `who(img_file)`: the engine behind
 * `edgecam predict`. A file that cannot be read or decoded becomes an error entry; the run goes on.
 */

/** Extensions picked up when walking folders (formats sharp decodes). Files named explicitly are always tried. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

export interface PredictionOk {
  file: string;
  label: string;
  confidence: number;
  top: RankedScore[];
}

export interface PredictionError {
  file: string;
  error: string;
  code?: string;
}

export type Prediction = PredictionOk | PredictionError;

export const isPredictionError = (p: Prediction): p is PredictionError => 'error' in p;

export interface CollectedFiles {
  files: string[];
  /** True when at least one argument was a folder (the CLI shows a progress bar then). */
  walkedFolders: boolean;
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    // Symlinked folders are not followed (a link to a parent would loop); symlinked files are.
    if (e.isDirectory()) await walk(path, out);
    else if ((e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(path);
  }
}

/**
 * Expands arguments into image files: folders are walked recursively (image extensions only, sorted), files kept
 * as given, in argument order. A path that does not exist is kept too, so it is reported as that file's error.
 */
export async function collectImageFiles(paths: readonly string[]): Promise<CollectedFiles> {
  const files: string[] = [];
  let walkedFolders = false;
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) {
      walkedFolders = true;
      await walk(p, files);
    } else {
      files.push(p);
    }
  }
  return { files, walkedFolders };
}

export interface PredictOptions {
  /** How many ranked labels each result carries (≥ 1). */
  top: number;
  /** Files decoded at once; decoding runs on sharp's threads while ORT works on the previous image. */
  concurrency?: number;
  /** Called in input order as soon as each result is known (for streaming output and progress). */
  onResult?: (prediction: Prediction, index: number) => void;
}

async function predictOne(classifier: Classifier, file: string, top: number): Promise<Prediction> {
  try {
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new EdgecamError(err.code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'FILE_UNREADABLE',
        err.code === 'ENOENT' ? 'no such file' : `cannot read it: ${errorMessage(err)}`, { cause: err });
    });
    const tensor = await preprocessImage(bytes, preprocessSpecOf(classifier.manifest));
    const { scores } = await classifier.classify(tensor);
    const ranked = topK(scores, Math.max(1, top));
    return { file, label: ranked[0]!.label, confidence: ranked[0]!.score, top: ranked };
  } catch (err) {
    return { file, error: errorMessage(err), code: err instanceof EdgecamError ? err.code : undefined };
  }
}

/** Every file's prediction or error, in input order. Never throws for a bad file. */
export async function predictFiles(classifier: Classifier, files: readonly string[], options: PredictOptions): Promise<Prediction[]> {
  const results: Prediction[] = new Array(files.length);
  const done: boolean[] = new Array(files.length).fill(false);
  let next = 0;
  let emitted = 0;
  const emitInOrder = () => {
    while (emitted < files.length && done[emitted]) {
      options.onResult?.(results[emitted]!, emitted);
      emitted++;
    }
  };
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await predictOne(classifier, files[i]!, options.top);
      done[i] = true;
      emitInOrder();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 2, files.length)) }, worker));
  return results;
}

export interface PredictionSummary {
  total: number;
  classified: number;
  failed: number;
  /** Predicted label → number of images, most frequent first. */
  perLabel: Array<{ label: string; count: number }>;
}

export function summarize(predictions: readonly Prediction[]): PredictionSummary {
  const counts = new Map<string, number>();
  let failed = 0;
  for (const p of predictions) {
    if (isPredictionError(p)) failed++;
    else counts.set(p.label, (counts.get(p.label) ?? 0) + 1);
  }
  const perLabel = [...counts].map(([label, count]) => ({ label, count })).sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
  return { total: predictions.length, classified: predictions.length - failed, failed, perLabel };
}
