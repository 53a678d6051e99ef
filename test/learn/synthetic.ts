import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../../src/learn/random.js';
import type { TrainData } from '../../src/learn/train.js';

/** Colour of each synthetic class: a tiny CNN separates these in a few epochs. */
export const CLASS_COLOURS: Record<string, [number, number, number]> = {
  red: [200, 40, 40],
  blue: [40, 60, 200],
  green: [40, 180, 60],
};

/** A noisy solid-colour PNG (with a random darker square so images differ). */
export async function colourImage(rgb: [number, number, number], size: number, seed: number): Promise<Buffer> {
  const rng = createRng(seed);
  const px = Buffer.alloc(size * size * 3);
  const sq = Math.floor(rng() * (size / 2));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dark = x >= sq && x < sq + size / 3 && y >= sq && y < sq + size / 3 ? 0.6 : 1;
      for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(rgb[c]! * dark + (rng() - 0.5) * 60)));
    }
  }
  return sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

/** Writes `<root>/<class>/<class>_<i>.png` for each class and count; returns the root. */
export async function writeColourDataset(root: string, counts: Record<string, number>, size = 16, seed = 1): Promise<string> {
  let s = seed;
  for (const [cls, n] of Object.entries(counts)) {
    await mkdir(join(root, cls), { recursive: true });
    for (let i = 0; i < n; i++) {
      await writeFile(join(root, cls, `${cls}_${String(i).padStart(3, '0')}.png`), await colourImage(CLASS_COLOURS[cls]!, size, s++ * 7919));
    }
  }
  return root;
}

/** n noisy 8×8 red (label 0) / blue (label 1) images as NHWC floats in 0..1, in memory: for training-loop tests. */
export function colourTensors(n: number, seed: number): TrainData {
  const rng = createRng(seed);
  const size = 8 * 8 * 3;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let p = 0; p < 64; p++) {
      const base = y[i] === 0 ? [0.8, 0.2, 0.2] : [0.2, 0.25, 0.8];
      for (let c = 0; c < 3; c++) x[i * size + p * 3 + c] = base[c]! + (rng() - 0.5) * 0.5;
    }
  }
  return { x, sampleDims: [8, 8, 3], y };
}
