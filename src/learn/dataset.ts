import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DatasetError } from './errors.js';
import { createRng, shuffleInPlace } from './random.js';

/**
 * Datasets are folders of class folders (the Keras `image_dataset_from_directory` layout):
 *   pets/cat/*.jpg, pets/dog/*.jpg            → one pool, split by --val-split (stratified, seeded)
 *   pets/train/<class>/…, pets/val/<class>/…  → the split is given
 * Labels are the class folder names, sorted, so the same folders always give the same label order.
 */

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp']);

export interface LabelledFile {
  path: string;
  /** Index into the dataset's `labels`. */
  label: number;
}

export interface DatasetSplit {
  labels: string[];
  train: LabelledFile[];
  val: LabelledFile[];
  /** How the validation set was obtained, for logs and provenance. */
  source: 'folders' | 'split';
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

async function listClassFolders(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch((err: unknown) => {
    throw new DatasetError('DATASET_NOT_FOUND', `Cannot read dataset folder ${root}: check the path exists and is a folder of class folders (e.g. ${root}/cat, ${root}/dog).`, { cause: err });
  });
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
}

async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.') && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => join(dir, e.name))
    .sort();
}

/**
 * Reads `<root>/<class>/<image>` into labelled files. An empty class folder is an error: a class the
 * model can never learn is a mistake the user wants to hear about before a long training run.
 */
export async function readClassFolders(root: string, expectedLabels?: string[]): Promise<{ labels: string[]; files: LabelledFile[] }> {
  const classes = await listClassFolders(root);
  if (classes.length === 0) {
    throw new DatasetError('DATASET_NO_CLASSES', `${root} contains no class folders. Put each class's images in its own subfolder, e.g. ${root}/cat/*.jpg and ${root}/dog/*.jpg.`);
  }
  const labels = expectedLabels ?? classes;
  const files: LabelledFile[] = [];
  for (const name of classes) {
    const label = labels.indexOf(name);
    if (label < 0) {
      throw new DatasetError('DATASET_UNKNOWN_CLASS', `${join(root, name)} is a class the model does not know (its labels: ${labels.join(', ')}). Rename or remove that folder.`);
    }
    const images = await listImages(join(root, name));
    if (images.length === 0) {
      throw new DatasetError('DATASET_EMPTY_CLASS', `Class folder ${join(root, name)} has no images (${[...IMAGE_EXTENSIONS].join(' ')}). Add images to it or remove the folder.`);
    }
    for (const path of images) files.push({ path, label });
  }
  return { labels, files };
}

/** Stratified split: each class contributes round(valFraction × its count) files (at least 1 when it has ≥ 2). */
export function stratifiedSplit(files: LabelledFile[], nClasses: number, valFraction: number, seed: number): { train: LabelledFile[]; val: LabelledFile[] } {
  if (!(valFraction > 0 && valFraction < 1)) {
    throw new DatasetError('DATASET_BAD_SPLIT', `--val-split must be between 0 and 1 (exclusive), got ${valFraction}.`);
  }
  const rng = createRng(seed);
  const train: LabelledFile[] = [];
  const val: LabelledFile[] = [];
  for (let c = 0; c < nClasses; c++) {
    const own = shuffleInPlace(files.filter((f) => f.label === c), rng);
    const nVal = own.length < 2 ? 0 : Math.max(1, Math.round(own.length * valFraction));
    val.push(...own.slice(0, nVal));
    train.push(...own.slice(nVal));
  }
  return { train, val };
}

export interface DatasetOptions {
  valSplit: number;
  seed: number;
}

/** Finds the train/validation files of `root` in either supported layout. */
export async function loadDatasetSplit(root: string, options: DatasetOptions): Promise<DatasetSplit> {
  const hasTrain = await isDir(join(root, 'train'));
  const hasVal = await isDir(join(root, 'val')) || await isDir(join(root, 'validation'));
  if (hasTrain && hasVal) {
    const valDir = await isDir(join(root, 'val')) ? join(root, 'val') : join(root, 'validation');
    const train = await readClassFolders(join(root, 'train'));
    const val = await readClassFolders(valDir, train.labels);
    return { labels: train.labels, train: train.files, val: val.files, source: 'folders' };
  }
  const poolRoot = hasTrain ? join(root, 'train') : root;
  const pool = await readClassFolders(poolRoot);
  const { train, val } = stratifiedSplit(pool.files, pool.labels.length, options.valSplit, options.seed);
  return { labels: pool.labels, train, val, source: 'split' };
}

/** The folder evaluate reads: `<root>/val` when the dataset has a split, else `<root>` itself. */
export async function evaluationFolder(root: string): Promise<string> {
  if (await isDir(join(root, 'val')) && await isDir(join(root, 'train'))) return join(root, 'val');
  return root;
}

/** Count of files per label name. */
export function classCounts(files: LabelledFile[], labels: string[]): Record<string, number> {
  const counts = Object.fromEntries(labels.map((l) => [l, 0])) as Record<string, number>;
  for (const f of files) counts[labels[f.label]!] = (counts[labels[f.label]!] ?? 0) + 1;
  return counts;
}

/**
 * "Balanced" class weights (n / (k · n_c), as scikit-learn and Keras tutorials use): a class with
 * half the images counts double, so an unbalanced folder does not teach the model to always say the big class.
 */
export function balancedClassWeights(labels: Int32Array | number[], nClasses: number): number[] {
  const counts = new Array<number>(nClasses).fill(0);
  for (const l of labels) counts[l]! += 1;
  const n = labels.length;
  return counts.map((c) => (c === 0 ? 0 : n / (nClasses * c)));
}
