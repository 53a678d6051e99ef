import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { createClassifier, type ClassifierDeps, type OrtClassifier } from '../inference/engine.js';
import type { Logger } from '../logger.js';
import { errorMessage } from '../errors.js';
import { loadModelFolder } from '../models/folder.js';
import { preprocessSpecOf, type PreprocessSpec } from '../models/manifest.js';
import type { ExecutionProvider } from '../inference/types.js';
import { type AugmentDraw, type AugmentOptions, NO_AUGMENT, applyAugments, drawAugments } from './augment.js';
import type { LabelledFile } from './dataset.js';
import type { PreprocessFn, SkippedFile } from './dataset-load.js';
import { DatasetError, TrainingError } from './errors.js';
import { createRng } from './random.js';
import { fitStandardizer, standardize, type Standardizer } from './standardize.js';
import { tidyValues } from './tensor-values.js';
import type { TrainData } from './train.js';

/**
 * Knowledge distillation for the small CNN ("function matching", Beyer et al. 2022): a big model that is
 * right about the user's classes (e.g. the MobileNetV2 pets model) labels many augmented VIEWS of each training
 * photo, and the CNN learns to match the teacher's probabilities on exactly the view it sees. Teacher and
 * student get the same random crop/flip/colour draw, each at its own input size and preprocessing (from the
 * two manifests), so the soft label describes the student's pixels, not the original photo. A few hundred
 * photos thereby give the CNN thousands of consistent, informative targets instead of one hard label each.
 */

export interface DistillOptions {
  /** Teacher model folder (any model the daemon runs whose labels include the dataset's). */
  teacher: string;
  /** Views per training photo: the photo itself plus views − 1 augmented ones. */
  views: number;
  /** Weight of the teacher's probabilities in the loss (1 − weight goes to the folder label). */
  weight: number;
  /**
   * Share of augmented views blended with another random photo (mixup, λ ∈ [0.5, 1] for the view's own photo);
   * the teacher labels the blend itself, so the target stays consistent. 0 = off.
   */
  mixup?: number;
  /**
   * Weight of feature matching: the CNN also predicts the teacher's embedding of each view (through a linear probe
   * used only in training) and the squared error of that prediction, per standardised dimension, joins the loss.
   * 1280 numbers per view say far more about a photo than 3 probabilities, which is what a few hundred photos
   * lack (FitNets, Romero et al. 2015). 0/undefined = off; needs a teacher with an embedding output.
   */
  features?: number;
  providers?: ExecutionProvider[];
}

export interface DistillDeps {
  logger: Logger;
  preprocess: PreprocessFn;
  classifierDeps?: Partial<ClassifierDeps>;
  onProgress?: (done: number, total: number) => void;
}

export interface DistilledSet extends TrainData {
  soft: Float32Array;
  /** With DistillOptions.features: N × featureSize standardised teacher embeddings (the probe's targets). */
  features?: Float32Array;
  skipped: SkippedFile[];
  /** How often the teacher's top class is the folder label, over all views. */
  teacherAgreement: number;
  teacher: { name: string; version: string; sha256?: string };
}

/** Index of each dataset label in the teacher's labels; a label the teacher lacks is an error (it could not teach it). */
export function teacherLabelMap(teacherLabels: string[], labels: string[], teacherName: string): number[] {
  const map = labels.map((l) => teacherLabels.indexOf(l));
  const missing = labels.filter((_, i) => map[i]! < 0);
  if (missing.length) {
    throw new TrainingError('TRAIN_TEACHER_LABELS', `the teacher model "${teacherName}" has no class ${missing.map((m) => `"${m}"`).join(', ')} (it knows ${teacherLabels.join(', ')}); a teacher must know every class folder of the dataset — pick another --teacher or rename the folders`);
  }
  return map;
}

/** Teacher probabilities restricted to the dataset's labels, in their order, renormalised to sum to 1. */
export function softTargets(probabilities: ArrayLike<number>, map: number[]): Float32Array {
  const out = Float32Array.from(map, (t) => probabilities[t]!);
  const sum = out.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) return out.fill(1 / out.length);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** The same draws applied to an image tensor of one spec: NHWC in, the spec's layout out. */
function viewsOf(image: Float32Array, spec: PreprocessSpec, draws: AugmentDraw[], augment: AugmentOptions | undefined, withPlain: boolean): Float32Array {
  const [h, w] = spec.size;
  return tidyValues(() => {
    const one = tf.tensor4d(image, [1, h, w, 3]);
    // One photo per call, not a tiled batch: tile + split cost more than the transforms at 224 px.
    const augmented = augment && draws.length ? tf.concat(draws.map((d) => applyAugments(one, [d], augment, spec)), 0) : undefined;
    const all = augmented && withPlain ? tf.concat([one, augmented], 0) : (augmented ?? one);
    return spec.layout === 'NCHW' ? all.transpose([0, 3, 1, 2]) : all;
  });
}

interface Photo {
  path: string;
  label: number;
  /** Preprocessed at the student's spec (NHWC) and at the teacher's size and normalisation (NHWC). */
  student: Float32Array;
  teacher: Float32Array;
}

/** views[v] ← λ·views[v] + (1 − λ)·other, in place (`other` is one view of the same size and layout). */
function blend(views: Float32Array, v: number, other: Float32Array, lambda: number): void {
  const base = v * other.length;
  for (let i = 0; i < other.length; i++) views[base + i] = lambda * views[base + i]! + (1 - lambda) * other[i]!;
}

/**
 * Holds the training photos at both input sizes and the teacher session; `sample()` draws fresh views of every
 * photo and has the teacher label them. Made by `openViewTeacher`; `close()` frees the ONNX Runtime session.
 * Memory: the photos at the teacher's size stay in RAM (~0.6 MB per photo at 224 px) so a new epoch decodes nothing.
 */
export class ViewTeacher {
  constructor(
    private readonly teacher: OrtClassifier,
    private readonly photos: Photo[],
    private readonly map: number[],
    private readonly studentSpec: PreprocessSpec,
    private readonly augment: AugmentOptions | undefined,
    private readonly rng: () => number,
    private readonly mixup: number,
    private readonly withFeatures: boolean,
    readonly skipped: SkippedFile[],
    readonly info: DistilledSet['teacher'],
  ) {}

  /** Fitted on the first sample's embeddings and kept, so every epoch's targets are on the same scale. */
  private featureScale: Standardizer | undefined;

  /** Length of the teacher's embedding (the feature probe's width); 0 without feature matching. */
  get featureSize(): number {
    return this.withFeatures ? this.teacher.manifest.output.embedding!.size : 0;
  }

  /** `views` views per photo: the photo itself first when `withPlain`, the rest augmented (all plain without --augment). */
  async sample(requested: number, withPlain: boolean, onProgress?: (done: number, total: number) => void): Promise<DistilledSet> {
    const views = this.augment ? requested : 1; // without augmentation every view would be the same photo
    const teacherSpec = preprocessSpecOf(this.teacher.manifest);
    const [sh, sw] = this.studentSpec.size;
    const [th, tw] = teacherSpec.size;
    const studentSize = sh * sw * 3;
    const nClasses = this.map.length;
    const total = this.photos.length * views;
    const x = new Float32Array(total * studentSize);
    const soft = new Float32Array(total * nClasses);
    const y = new Int32Array(total);
    const features = this.withFeatures ? new Float32Array(total * this.featureSize) : undefined;
    let row = 0;
    let agree = 0;
    for (const [i, photo] of this.photos.entries()) {
      const plain = withPlain || !this.augment ? 1 : 0;
      // The same draw for both sizes: the teacher's label must describe the pixels the student gets.
      const draws = drawAugments(this.rng, this.augment ?? NO_AUGMENT, views - plain);
      const studentViews = viewsOf(photo.student, this.studentSpec, draws, this.augment, plain === 1);
      const teacherViews = viewsOf(photo.teacher, teacherSpec, draws, this.augment, plain === 1);
      for (let v = plain; v < views && this.mixup > 0; v++) {
        if (this.rng() >= this.mixup) continue;
        const other = this.photos[Math.floor(this.rng() * this.photos.length)]!;
        const lambda = 0.5 + 0.5 * this.rng();
        blend(studentViews, v, viewsOf(other.student, this.studentSpec, [], undefined, true), lambda);
        blend(teacherViews, v, viewsOf(other.teacher, teacherSpec, [], undefined, true), lambda);
      }
      const dims = teacherSpec.layout === 'NCHW' ? [views, 3, th, tw] : [views, th, tw, 3];
      const out = await this.teacher.classifyBatch({ data: teacherViews, dims });
      out.forEach((c, v) => {
        const q = softTargets(c.scores.probabilities, this.map);
        if (q.indexOf(Math.max(...q)) === photo.label) agree++;
        x.set(studentViews.subarray(v * studentSize, (v + 1) * studentSize), row * studentSize);
        features?.set(c.embedding!, row * this.featureSize);
        soft.set(q, row * nClasses);
        y[row++] = photo.label;
      });
      onProgress?.(i + 1, this.photos.length);
    }
    const scaled = features ? this.standardized(features) : undefined;
    return { x, sampleDims: [sh, sw, 3], y, soft, ...(scaled ? { features: scaled } : {}), skipped: this.skipped, teacherAgreement: total ? agree / total : NaN, teacher: this.info };
  }

  private standardized(features: Float32Array): Float32Array {
    this.featureScale ??= fitStandardizer(features, this.featureSize);
    return standardize(features, this.featureScale);
  }

  async close(): Promise<void> {
    await this.teacher.dispose();
  }
}

/** Loads the teacher and every readable training photo (unreadable ones are reported and skipped, as in plain training). */
export async function openViewTeacher(deps: DistillDeps, files: LabelledFile[], labels: string[], studentSpec: PreprocessSpec, o: DistillOptions & { augment?: AugmentOptions; seed: number }): Promise<ViewTeacher> {
  if (!(Number.isInteger(o.views) && o.views >= 1)) throw new TrainingError('TRAIN_BAD_OPTION', `--teacher-views must be a whole number ≥ 1, got ${o.views}`);
  if (!((o.mixup ?? 0) >= 0 && (o.mixup ?? 0) <= 1)) throw new TrainingError('TRAIN_BAD_OPTION', `--mixup must be between 0 and 1, got ${o.mixup}`);
  if (!(o.weight >= 0 && o.weight <= 1)) throw new TrainingError('TRAIN_BAD_OPTION', `--distill-weight must be between 0 and 1, got ${o.weight}`);
  if (studentSpec.layout !== 'NHWC') throw new TrainingError('TRAIN_BAD_OPTION', 'distillation needs an NHWC student (the CNN is)');
  if (!((o.features ?? 0) >= 0)) throw new TrainingError('TRAIN_BAD_OPTION', `--distill-features must be a weight ≥ 0, got ${o.features}`);
  const folder = await loadModelFolder(o.teacher);
  const map = teacherLabelMap(folder.manifest.labels, labels, folder.manifest.name);
  const withFeatures = (o.features ?? 0) > 0;
  if (withFeatures && !folder.manifest.output.embedding) {
    throw new TrainingError('TRAIN_TEACHER_FEATURES', `--distill-features needs a teacher with an embedding output, and "${folder.manifest.name}" has none (its manifest lists no output.embedding); use a transfer model made by \`edgecam train --arch transfer\` or \`edgecam model pull … --head\`, or drop --distill-features`);
  }
  const teacherNhwc: PreprocessSpec = { ...preprocessSpecOf(folder.manifest), layout: 'NHWC' };
  const studentSize = studentSpec.size[0] * studentSpec.size[1] * 3;
  const photos: Photo[] = [];
  const skipped: SkippedFile[] = [];
  for (const [i, file] of files.entries()) {
    try {
      const bytes = await readFile(file.path);
      const student = (await deps.preprocess(bytes, studentSpec)).data;
      if (student.length !== studentSize) throw new DatasetError('DATASET_SHAPE_MISMATCH', `Preprocessing ${file.path} gave ${student.length} values, expected ${studentSize}.`);
      photos.push({ path: file.path, label: file.label, student, teacher: (await deps.preprocess(bytes, teacherNhwc)).data });
    } catch (err) {
      if (err instanceof DatasetError) throw err;
      skipped.push({ path: file.path, reason: errorMessage(err) });
      deps.logger.warn({ file: file.path, err: errorMessage(err) }, 'skipping an image that cannot be decoded');
    }
    deps.onProgress?.(i + 1, files.length);
  }
  if (photos.length === 0 && files.length > 0) throw new DatasetError('DATASET_NO_READABLE_IMAGES', `None of the ${files.length} images could be decoded (first problem: ${skipped[0]?.path}: ${skipped[0]?.reason}).`);
  const teacher = await createClassifier({ logger: deps.logger, ...deps.classifierDeps }, { folder, providers: o.providers ?? ['cpu'] });
  const info = { name: folder.manifest.name, version: folder.manifest.version, ...(folder.manifest.sha256 ? { sha256: folder.manifest.sha256 } : {}) };
  return new ViewTeacher(teacher, photos, map, studentSpec, o.augment, createRng(o.seed ^ 0x5eed), o.mixup ?? 0, withFeatures, skipped, info);
}

/** One set of views (the photo + views − 1 augmented per photo), teacher closed afterwards. */
export async function distilledViews(deps: DistillDeps, files: LabelledFile[], labels: string[], studentSpec: PreprocessSpec, o: DistillOptions & { augment?: AugmentOptions; seed: number }): Promise<DistilledSet> {
  const teacher = await openViewTeacher(deps, files, labels, studentSpec, o);
  try {
    return await teacher.sample(o.views, true);
  } finally {
    await teacher.close();
  }
}
