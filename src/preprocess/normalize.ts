import type { PreprocessSpec } from '../models/manifest.js';

/**
 * Interleaved 8-bit RGB pixels (as sharp's raw output gives them) → the float layout a model consumes.
 * Kept apart from decoding so training can feed augmented raw pixels through exactly the same maths.
 */

/** What the normaliser needs from a spec: the rest of PreprocessSpec is about geometry. */
export type NormalizeSpec = Pick<PreprocessSpec, 'scale' | 'mean' | 'std' | 'layout' | 'colorOrder'>;

/**
 * Per-channel lookup tables: value = (pixel * scale - mean[c]) / std[c], computed in float64 once per
 * spec, so the per-pixel loop is a table read. Indexed by the SOURCE colour (0 = red, 1 = green, 2 = blue):
 * `mean`, `std` (and `padColor`) in the manifest are RGB-indexed whatever the model's colour order is.
 */
export function buildLookupTables(spec: NormalizeSpec): [Float32Array, Float32Array, Float32Array] {
  const table = (c: number): Float32Array => {
    const t = new Float32Array(256);
    for (let p = 0; p < 256; p++) t[p] = (p * spec.scale - spec.mean[c]) / spec.std[c];
    return t;
  };
  return [table(0), table(1), table(2)];
}

const lutCache = new WeakMap<NormalizeSpec, [Float32Array, Float32Array, Float32Array]>();

function lookupTablesFor(spec: NormalizeSpec): [Float32Array, Float32Array, Float32Array] {
  // Specs are usually one object per loaded model; caching by identity saves 768 divisions per frame.
  let luts = lutCache.get(spec);
  if (!luts) {
    luts = buildLookupTables(spec);
    lutCache.set(spec, luts);
  }
  return luts;
}

/**
 * Writes `width*height*3` floats into `out` starting at `offset`.
 * NCHW: planar, model channel k occupies [k*H*W, (k+1)*H*W). NHWC: interleaved, 3 values per pixel.
 * BGR models get blue in model channel 0.
 */
export function rgbToTensor(rgb: Uint8Array, width: number, height: number, spec: NormalizeSpec, out: Float32Array, offset = 0): void {
  const plane = width * height;
  if (rgb.length < plane * 3) throw new RangeError(`expected ${plane * 3} RGB bytes for ${width}x${height}, got ${rgb.length}`);
  if (offset < 0 || offset + plane * 3 > out.length) {
    throw new RangeError(`tensor of ${plane * 3} floats does not fit at offset ${offset} in an array of ${out.length}`);
  }
  const [lr, lg, lb] = lookupTablesFor(spec);
  // Model channel k reads source colour src[k].
  const bgr = spec.colorOrder === 'BGR';
  const [t0, t1, t2] = bgr ? [lb, lg, lr] : [lr, lg, lb];
  const [s0, s2] = bgr ? [2, 0] : [0, 2];
  if (spec.layout === 'NCHW') {
    const o0 = offset, o1 = offset + plane, o2 = offset + 2 * plane;
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      out[o0 + i] = t0[rgb[j + s0]];
      out[o1 + i] = t1[rgb[j + 1]];
      out[o2 + i] = t2[rgb[j + s2]];
    }
  } else {
    for (let i = 0, j = 0, o = offset; i < plane; i++, j += 3, o += 3) {
      out[o] = t0[rgb[j + s0]];
      out[o + 1] = t1[rgb[j + 1]];
      out[o + 2] = t2[rgb[j + s2]];
    }
  }
}

/** Tensor dims for one image: [1,3,H,W] or [1,H,W,3]. */
export function tensorDims(spec: Pick<PreprocessSpec, 'size' | 'layout'>, batch = 1): number[] {
  const [h, w] = spec.size;
  return spec.layout === 'NCHW' ? [batch, 3, h, w] : [batch, h, w, 3];
}
