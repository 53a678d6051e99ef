import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { createClassifier, type ClassifierDeps, type OrtClassifier } from '../inference/engine.js';
import type { Logger } from '../logger.js';
import { errorMessage } from '../errors.js';
import { loadModelFolder } from '../models/folder.js';
import { preprocessSpecOf, type PreprocessSpec } from '../models/manifest.js';
import type { ExecutionProvider } from '../inference/types.js';
import { type AugmentOptions, applyAugments, drawAugments } from './augment.js';
import type { LabelledFile } from './dataset.js';
import type { PreprocessFn, SkippedFile } from './dataset-load.js';
import { DatasetError, TrainingError } from './errors.js';
import { createRng } from './random.js';
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
function viewsOf(image: Float32Array, spec: PreprocessSpec, draws: ReturnType<typeof drawAugments>, augment: AugmentOptions | undefined): Float32Array {
  const [h, w] = spec.size;
  // The tensor leaves tidy, not its data: tidy walks a returned typed array element by element (seconds per image).
  const views = tf.tidy(() => {
    const one = tf.tensor4d(image, [1, h, w, 3]);
    const augmented = augment && draws.length ? applyAugments(tf.tile(one, [draws.length, 1, 1, 1]) as tf.Tensor4D, draws, augment, spec) : undefined;
    const all = augmented ? tf.concat([one, augmented], 0) : one;
    return spec.layout === 'NCHW' ? all.transpose([0, 3, 1, 2]) : all;
  });
  try {
    return views.dataSync() as Float32Array;
  } finally {
    views.dispose();
  }
}

/**
 * Views of every training photo for the student (its spec, NHWC) with the teacher's probabilities on the same views.
 * Unreadable photos are reported and skipped, as in plain training.
 */
export async function distilledViews(deps: DistillDeps, files: LabelledFile[], labels: string[], studentSpec: PreprocessSpec, o: DistillOptions & { augment?: AugmentOptions; seed: number }): Promise<DistilledSet> {
  if (!(Number.isInteger(o.views) && o.views >= 1)) throw new TrainingError('TRAIN_BAD_OPTION', `--teacher-views must be a whole number ≥ 1, got ${o.views}`);
  if (!(o.weight >= 0 && o.weight <= 1)) throw new TrainingError('TRAIN_BAD_OPTION', `--distill-weight must be between 0 and 1, got ${o.weight}`);
  if (studentSpec.layout !== 'NHWC') throw new TrainingError('TRAIN_BAD_OPTION', 'distillation needs an NHWC student (the CNN is)');
  const folder = await loadModelFolder(o.teacher);
  const map = teacherLabelMap(folder.manifest.labels, labels, folder.manifest.name);
  const views = o.augment ? o.views : 1;
  const teacher: OrtClassifier = await createClassifier({ logger: deps.logger, ...deps.classifierDeps }, { folder, providers: o.providers ?? ['cpu'] });
  const teacherSpec = preprocessSpecOf(folder.manifest);
  const teacherNhwc: PreprocessSpec = { ...teacherSpec, layout: 'NHWC' };
  const [sh, sw] = studentSpec.size;
  const studentSize = sh * sw * 3;
  const nClasses = labels.length;
  const x: Float32Array[] = [];
  const soft: Float32Array[] = [];
  const y: number[] = [];
  const skipped: SkippedFile[] = [];
  const rng = createRng(o.seed ^ 0x5eed);
  let agree = 0;
  try {
    for (let f = 0; f < files.length; f++) {
      const file = files[f]!;
      let student: Float32Array, big: Float32Array;
      try {
        const bytes = await readFile(file.path);
        student = (await deps.preprocess(bytes, studentSpec)).data;
        big = (await deps.preprocess(bytes, teacherNhwc)).data;
      } catch (err) {
        skipped.push({ path: file.path, reason: errorMessage(err) });
        deps.logger.warn({ file: file.path, err: errorMessage(err) }, 'skipping an image that cannot be decoded');
        deps.onProgress?.(f + 1, files.length);
        continue;
      }
      if (student.length !== studentSize) throw new DatasetError('DATASET_SHAPE_MISMATCH', `Preprocessing ${file.path} gave ${student.length} values, expected ${studentSize}.`);
      const draws = drawAugments(rng, o.augment ?? { flip: false, rotation: 0, shift: 0, zoom: 0, shear: 0, brightness: 0, contrast: 0 }, views - 1);
      const studentViews = viewsOf(student, studentSpec, draws, o.augment);
      const teacherViews = viewsOf(big, teacherSpec, draws, o.augment);
      const [th, tw] = teacherSpec.size;
      const dims = teacherSpec.layout === 'NCHW' ? [views, 3, th, tw] : [views, th, tw, 3];
      const out = await teacher.classifyBatch({ data: teacherViews, dims });
      out.forEach((c, v) => {
        const q = softTargets(c.scores.probabilities, map);
        if (q.indexOf(Math.max(...q)) === file.label) agree++;
        x.push(studentViews.slice(v * studentSize, (v + 1) * studentSize));
        soft.push(q);
        y.push(file.label);
      });
      deps.onProgress?.(f + 1, files.length);
    }
  } finally {
    await teacher.dispose();
  }
  if (y.length === 0 && files.length > 0) throw new DatasetError('DATASET_NO_READABLE_IMAGES', `None of the ${files.length} images could be decoded (first problem: ${skipped[0]?.path}: ${skipped[0]?.reason}).`);
  const xAll = new Float32Array(y.length * studentSize);
  x.forEach((v, i) => xAll.set(v, i * studentSize));
  const softAll = new Float32Array(y.length * nClasses);
  soft.forEach((q, i) => softAll.set(q, i * nClasses));
  return {
    x: xAll, sampleDims: [sh, sw, 3], y: Int32Array.from(y), soft: softAll, skipped,
    teacherAgreement: y.length ? agree / y.length : NaN,
    teacher: { name: folder.manifest.name, version: folder.manifest.version, ...(folder.manifest.sha256 ? { sha256: folder.manifest.sha256 } : {}) },
  };
}
