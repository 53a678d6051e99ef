import sharp from 'sharp';

/** Synthesized test images: built from raw pixels with sharp, so tests need no files and know every pixel. */

export type Rgb = [number, number, number];

/** Raw interleaved pixels from a function of (x, y). */
export function rawPixels(width: number, height: number, channels: 1 | 3 | 4, pixel: (x: number, y: number) => number[]): Buffer {
  const buf = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = pixel(x, y);
      for (let c = 0; c < channels; c++) buf[(y * width + x) * channels + c] = p[c];
    }
  }
  return buf;
}

export async function encode(width: number, height: number, channels: 1 | 3 | 4, pixel: (x: number, y: number) => number[],
  format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const img = sharp(rawPixels(width, height, channels, pixel), { raw: { width, height, channels } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

/** Vertical bands: colours[i] fills columns [edges[i], edges[i+1]). */
export function bands(edges: number[], colours: Rgb[]): (x: number) => Rgb {
  return (x) => {
    for (let i = colours.length - 1; i >= 0; i--) if (x >= edges[i]) return colours[i];
    return colours[0];
  };
}

export const RED: Rgb = [255, 0, 0];
export const GREEN: Rgb = [0, 255, 0];
export const BLUE: Rgb = [0, 0, 255];

/** The pixel (as RGB 0..255) a tensor holds at (x, y), undoing an identity-normalised RGB NCHW spec. */
export function pixelAt(data: Float32Array, width: number, height: number, x: number, y: number): Rgb {
  const plane = width * height;
  const i = y * width + x;
  return [data[i], data[plane + i], data[2 * plane + i]].map((v) => Math.round(v)) as Rgb;
}

/** True when every channel is within `tol` of the expected colour. */
export function near(actual: Rgb, expected: Rgb, tol: number): boolean {
  return actual.every((v, c) => Math.abs(v - expected[c]) <= tol);
}
