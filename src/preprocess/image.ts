import sharp, { type Sharp } from 'sharp';
import { ImageError, errorMessage } from '../errors.js';
import type { PreprocessSpec } from '../models/manifest.js';
import type { Tensor } from '../types.js';
import { rgbToTensor, tensorDims } from './normalize.js';

/**
 * Image bytes + the model's PreprocessSpec → tensor. The ONE preprocessing path: `edgecam predict`, the daemon and
 * training all call it, so a model sees at serving time exactly what it saw while learning.
 *
 * Steps: decode (any format sharp reads) → EXIF orientation → alpha flattened onto padColor → sRGB, 3 channels →
 * resize per spec.resize → (pixel*scale - mean[c]) / std[c] → NCHW or NHWC, RGB or BGR, dims [1, …].
 */

/**
 * Largest input accepted: 64 megapixels (8192×8192). Bigger than any camera frame or phone photo we expect; a
 * decompression bomb claiming more is refused before its pixels are decoded (sharp trusts the header for this).
 */
export const MAX_INPUT_PIXELS = 8192 * 8192;

/**
 * Bilinear (antialiased when shrinking, as libvips scales the kernel): what torchvision's Resize (bilinear,
 * antialias) and Keras' image_dataset_from_directory (bilinear) trained models saw. sharp's default lanczos3
 * shifted MobileNetV2's darknet dog from malamute .77 to .60 (top-1 unchanged).
 */
const RESIZE_KERNEL = 'linear';

/** Oriented size and format of an encoded image, read from its header only. */
export interface ImageInfo {
  /** Width as displayed, i.e. after EXIF orientation. */
  width: number;
  height: number;
  format: string;
  /** EXIF orientation tag 1-8, when present. */
  orientation?: number;
  hasAlpha: boolean;
}

function open(bytes: Uint8Array): Sharp {
  if (bytes.length === 0) throw new ImageError('IMAGE_EMPTY', 'The image is empty (0 bytes). Check that the file was written completely.');
  // failOn 'error' (not sharp's default 'warning'): truncated or corrupt pixel data is an error instead of a grey
  // frame, while harmless warnings (odd EXIF, extra bytes after the image) from real cameras are tolerated.
  return sharp(bytes, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS, autoOrient: true, sequentialRead: true });
}

/** Turns sharp/libvips errors into ImageErrors whose message says what was wrong and what to do. */
function translate(err: unknown): ImageError {
  if (err instanceof ImageError) return err;
  const msg = errorMessage(err);
  if (/pixel limit/i.test(msg)) {
    return new ImageError('IMAGE_TOO_LARGE', `The image is larger than ${MAX_INPUT_PIXELS / 1e6 | 0} megapixels; resize it before classifying (${msg}).`, { cause: err });
  }
  if (/unsupported image format|corrupt header|bad seek|not a known file format/i.test(msg)) {
    return new ImageError('IMAGE_UNREADABLE', `Not an image sharp can read (JPEG, PNG, WebP, GIF, TIFF, AVIF): ${msg}`, { cause: err });
  }
  if (/premature end|truncated|end of (file|stream)|read error|out of data/i.test(msg)) {
    return new ImageError('IMAGE_UNREADABLE', `The image is truncated or corrupt; re-capture or re-copy it (${msg}).`, { cause: err });
  }
  return new ImageError('IMAGE_UNREADABLE', `The image could not be decoded: ${msg}`, { cause: err });
}

/** Cheap header read: oriented dimensions, format, alpha. Throws ImageError like preprocessImage does. */
export async function decodeImageInfo(bytes: Uint8Array): Promise<ImageInfo> {
  try {
    const meta = await open(bytes).metadata();
    const { width, height } = meta.autoOrient ?? meta;
    if (!width || !height) throw new ImageError('IMAGE_UNREADABLE', 'The image header has no dimensions.');
    if (width * height > MAX_INPUT_PIXELS) throw translate(new Error(`Input image exceeds pixel limit (${width}x${height})`));
    return { width, height, format: meta.format, orientation: meta.orientation, hasAlpha: meta.hasAlpha === true };
  } catch (err) {
    throw translate(err);
  }
}

/** Python's round(): halves go to the even neighbour, as in torchvision's CenterCrop (58.5 → 58). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d !== 0.5) return Math.round(v);
  return f % 2 === 0 ? f : f + 1;
}

/** Where to cut the centred crop after resizing the shorter side (torchvision Resize(n) + CenterCrop). */
export function shorterSideCropGeometry(srcWidth: number, srcHeight: number, shorter: number, size: readonly [number, number]): {
  resizeWidth: number; resizeHeight: number; left: number; top: number;
} {
  const [cropH, cropW] = size;
  // torchvision: the shorter side becomes `shorter`, the longer one int(shorter * long / short).
  let resizeWidth = srcWidth <= srcHeight ? shorter : Math.floor((shorter * srcWidth) / srcHeight);
  let resizeHeight = srcWidth <= srcHeight ? Math.floor((shorter * srcHeight) / srcWidth) : shorter;
  if (resizeWidth < cropW || resizeHeight < cropH) {
    // The manifest asks for a crop larger than the resized image: grow the resize until the crop fits (never pad).
    const scale = Math.max(cropW / srcWidth, cropH / srcHeight);
    resizeWidth = Math.max(cropW, Math.round(srcWidth * scale));
    resizeHeight = Math.max(cropH, Math.round(srcHeight * scale));
  }
  return { resizeWidth, resizeHeight, left: roundHalfEven((resizeWidth - cropW) / 2), top: roundHalfEven((resizeHeight - cropH) / 2) };
}

async function resizedRgb(bytes: Uint8Array, spec: PreprocessSpec): Promise<Buffer> {
  const [height, width] = spec.size;
  const [r, g, b] = spec.padColor;
  const background = { r, g, b, alpha: 1 };
  let img = open(bytes);
  if (spec.resize === 'shorter-side-then-center-crop') {
    const info = await img.metadata();
    const { width: w, height: h } = info.autoOrient ?? info;
    if (!w || !h) throw new ImageError('IMAGE_UNREADABLE', 'The image header has no dimensions.');
    const geo = shorterSideCropGeometry(w, h, spec.resizeShorterTo ?? Math.min(width, height), spec.size);
    // One resize then extract: two chained resize() calls do not compose in sharp (only the last applies).
    img = img.flatten({ background }).resize(geo.resizeWidth, geo.resizeHeight, { fit: 'fill', kernel: RESIZE_KERNEL })
      .extract({ left: geo.left, top: geo.top, width, height });
  } else {
    const fit = spec.resize === 'squash' ? 'fill' : spec.resize;
    img = img.flatten({ background }).resize(width, height, { fit, position: 'centre', background, kernel: RESIZE_KERNEL });
  }
  const { data, info } = await img.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw new ImageError('IMAGE_UNREADABLE', `Decoding gave ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3.`);
  }
  return data;
}

/**
 * Writes one preprocessed image (3*H*W floats) into `out` at `offset`, for batches:
 * `preprocessInto(bytes, spec, batch, i * 3 * H * W)`.
 */
export async function preprocessInto(bytes: Uint8Array, spec: PreprocessSpec, out: Float32Array, offset: number): Promise<void> {
  let rgb: Buffer;
  try {
    rgb = await resizedRgb(bytes, spec);
  } catch (err) {
    throw translate(err);
  }
  rgbToTensor(rgb, spec.size[1], spec.size[0], spec, out, offset);
}

/** Image bytes → tensor with dims [1,3,H,W] (NCHW) or [1,H,W,3] (NHWC). Throws ImageError for unusable input. */
export async function preprocessImage(bytes: Uint8Array, spec: PreprocessSpec): Promise<Tensor> {
  const [h, w] = spec.size;
  const data = new Float32Array(3 * h * w);
  await preprocessInto(bytes, spec, data, 0);
  return { data, dims: tensorDims(spec) };
}
