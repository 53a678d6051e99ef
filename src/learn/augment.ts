import * as tf from '@tensorflow/tfjs';
import type { PreprocessSpec } from '../models/manifest.js';
import { TrainingError } from './errors.js';
import { type Rng, uniform } from './random.js';

/**
 * On-the-fly augmentation (Keras ImageDataGenerator semantics), applied to each training batch with
 * tf ops: one random affine per image through tf.image.transform covers rotation, shift, zoom and
 * shear in a single resampling; brightness/contrast act on pixel values recovered from the manifest's
 * normalisation, so the same numbers mean the same thing for a 0..1 CNN and an ImageNet-normalised backbone.
 */
export interface AugmentOptions {
  flip: boolean;
  /** Max rotation, degrees either way. */
  rotation: number;
  /** Max shift as a fraction of width/height. */
  shift: number;
  /** Max zoom in/out as a fraction (0.1 → scale in [0.9, 1.1]). */
  zoom: number;
  /** Max shear angle, degrees. */
  shear: number;
  /** Max brightness change as a fraction of full range. */
  brightness: number;
  /** Max contrast change as a fraction (0.2 → factor in [0.8, 1.2]). */
  contrast: number;
}

export const NO_AUGMENT: AugmentOptions = { flip: false, rotation: 0, shift: 0, zoom: 0, shear: 0, brightness: 0, contrast: 0 };
export const DEFAULT_AUGMENT: AugmentOptions = { flip: true, rotation: 15, shift: 0.1, zoom: 0.15, shear: 8, brightness: 0.15, contrast: 0.15 };

/**
 * Parses `--augment`: empty / "true" / "default" → DEFAULT_AUGMENT; "none" / "false" → off;
 * otherwise a comma list like "flip,rotation=20,zoom=0.2" (unnamed keys stay off).
 */
export function parseAugment(spec: string | boolean | undefined): AugmentOptions | undefined {
  if (spec === undefined || spec === false || spec === 'none' || spec === 'false') return undefined;
  if (spec === true || spec === '' || spec === 'true' || spec === 'default') return { ...DEFAULT_AUGMENT };
  const out: AugmentOptions = { ...NO_AUGMENT };
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, raw] = part.split('=') as [string, string | undefined];
    if (key === 'flip') { out.flip = raw === undefined || raw === 'true'; continue; }
    if (!(key in out) || key === 'flip') {
      throw new TrainingError('TRAIN_BAD_AUGMENT', `Unknown augmentation "${key}" in --augment; use flip, rotation, shift, zoom, shear, brightness, contrast (e.g. "flip,rotation=15,zoom=0.1").`);
    }
    const value = raw === undefined ? (DEFAULT_AUGMENT[key as keyof AugmentOptions] as number) : Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new TrainingError('TRAIN_BAD_AUGMENT', `--augment ${key} needs a non-negative number, got "${raw}".`);
    (out as unknown as Record<string, number>)[key] = value;
  }
  return out;
}

const DEG = Math.PI / 180;

/**
 * One image's random augmentation, drawn once and applicable at any resolution (shift is a fraction of the
 * size): distillation shows the teacher and the student the same view at their own input sizes.
 */
export interface AugmentDraw {
  theta: number;
  shear: number;
  zx: number;
  zy: number;
  flip: 1 | -1;
  /** Shift as fractions of width / height. */
  tx: number;
  ty: number;
  brightness: number;
  contrast: number;
}

function drawGeometry(rng: Rng, o: AugmentOptions): Omit<AugmentDraw, 'brightness' | 'contrast'> {
  const theta = uniform(rng, -o.rotation, o.rotation) * DEG;
  const shear = uniform(rng, -o.shear, o.shear) * DEG;
  const zx = 1 + uniform(rng, -o.zoom, o.zoom);
  const zy = 1 + uniform(rng, -o.zoom, o.zoom);
  const flip = o.flip && rng() < 0.5 ? -1 : 1;
  const tx = uniform(rng, -o.shift, o.shift);
  const ty = uniform(rng, -o.shift, o.shift);
  return { theta, shear, zx, zy, flip, tx, ty };
}

/** Draws for a batch of n images (geometry per image first, then brightness, then contrast: a fixed stream order). */
export function drawAugments(rng: Rng, o: AugmentOptions, n: number): AugmentDraw[] {
  const identity = { theta: 0, shear: 0, zx: 1, zy: 1, flip: 1 as const, tx: 0, ty: 0 };
  const geometry = Array.from({ length: n }, () => (needsGeometry(o) ? drawGeometry(rng, o) : identity));
  const colour = o.brightness > 0 || o.contrast > 0;
  const bright = colour ? Array.from({ length: n }, () => uniform(rng, -o.brightness, o.brightness)) : [];
  const contrast = colour ? Array.from({ length: n }, () => 1 + uniform(rng, -o.contrast, o.contrast)) : [];
  return geometry.map((g, i) => ({ ...g, brightness: bright[i] ?? 0, contrast: contrast[i] ?? 1 }));
}

/**
 * The 8 projective coefficients tf.image.transform wants: they map an OUTPUT pixel to the INPUT pixel
 * it samples, so we build the forward affine (about the image centre) and invert it.
 */
export function affineRow(d: AugmentDraw, width: number, height: number): number[] {
  // forward A = R(theta) · Shear · diag(flip·zx, zy)
  const c = Math.cos(d.theta), s = Math.sin(d.theta), sh = Math.tan(d.shear);
  const a00 = c * d.flip * d.zx, a01 = (c * sh - s) * d.zy;
  const a10 = s * d.flip * d.zx, a11 = (s * sh + c) * d.zy;
  const det = a00 * a11 - a01 * a10;
  const m00 = a11 / det, m01 = -a01 / det, m10 = -a10 / det, m11 = a00 / det;
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  const px = cx + d.tx * width, py = cy + d.ty * height;
  return [m00, m01, cx - m00 * px - m01 * py, m10, m11, cy - m10 * px - m11 * py, 0, 0];
}

export function randomAffineRow(rng: Rng, o: AugmentOptions, width: number, height: number): number[] {
  return affineRow({ ...drawGeometry(rng, o), brightness: 0, contrast: 1 }, width, height);
}

function needsGeometry(o: AugmentOptions): boolean {
  return o.flip || o.rotation > 0 || o.shift > 0 || o.zoom > 0 || o.shear > 0;
}

/**
 * Applies one draw per image to an NHWC batch of preprocessed images. Returns a new tensor; the caller
 * disposes both. `spec` tells how values relate to pixels, so brightness/contrast act in 0..1 pixel space.
 */
export function applyAugments(images: tf.Tensor4D, draws: AugmentDraw[], o: AugmentOptions, spec: Pick<PreprocessSpec, 'scale' | 'mean' | 'std'>): tf.Tensor4D {
  const [n, h, w] = images.shape;
  return tf.tidy(() => {
    let x: tf.Tensor4D = images;
    if (needsGeometry(o)) {
      // One image per call: tfjs-backend-cpu 4.22's Transform kernel returns after the first image of a
      // batch (the rest come back as fill value), so batched calls silently blank most of the batch.
      const images1 = tf.split(x, n, 0).map((img, i) => tf.image.transform(img as tf.Tensor4D, tf.tensor2d([affineRow(draws[i]!, w, h)], [1, 8]), 'bilinear', 'nearest'));
      x = tf.concat(images1, 0);
    }
    if (o.brightness > 0 || o.contrast > 0) {
      const mean = tf.tensor1d(spec.mean), std = tf.tensor1d(spec.std);
      const toUnit = 255 * spec.scale;
      let u = x.mul(std).add(mean).div(toUnit) as tf.Tensor4D; // pixel / 255
      const bright = tf.tensor(draws.map((d) => d.brightness), [n, 1, 1, 1]);
      const contrast = tf.tensor(draws.map((d) => d.contrast), [n, 1, 1, 1]);
      const imageMean = u.mean([1, 2, 3], true);
      u = u.sub(imageMean).mul(contrast).add(imageMean).add(bright).clipByValue(0, 1) as tf.Tensor4D;
      x = u.mul(toUnit).sub(mean).div(std) as tf.Tensor4D;
    }
    return x === images ? images.clone() : x;
  });
}

/** Augments an NHWC batch with fresh random draws (see applyAugments). */
export function augmentBatch(images: tf.Tensor4D, o: AugmentOptions, spec: Pick<PreprocessSpec, 'scale' | 'mean' | 'std'>, rng: Rng): tf.Tensor4D {
  return applyAugments(images, drawAugments(rng, o, images.shape[0]), o, spec);
}
