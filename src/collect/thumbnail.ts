import sharp from 'sharp';

/**
 * Near-duplicate test for a static scene: an 8×8 grey thumbnail, compared by mean absolute difference (0..255).
 * Sensor noise and JPEG re-encoding move it by ~0-2; a cat walking in moves it by tens.
 */
export const THUMB_SIDE = 8;

export async function greyThumbnail(bytes: Uint8Array): Promise<Uint8Array> {
  const { data } = await sharp(bytes, { failOn: 'none' }).rotate().resize(THUMB_SIDE, THUMB_SIDE, { fit: 'fill' }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, THUMB_SIDE * THUMB_SIDE);
}

export function thumbnailDistance(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}
