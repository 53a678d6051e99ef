import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listImages } from '../capture/folder-source.js';
import { EdgecamError } from '../errors.js';

/**
 * Frames for the bench: the user's own folder (`--frames`), or camera-like JPEGs synthesized here, so the bench
 * runs anywhere without shipping photos. Synthesized frames are 640×480 (a common camera mode) with gradients and
 * noise so they compress and decode like a photo, not like a flat colour (which JPEG makes unrealistically cheap).
 */

export const SYNTH_WIDTH = 640;
export const SYNTH_HEIGHT = 480;

/** One photo-like JPEG; `seed` varies the content so consecutive frames differ. */
export async function photoLikeJpeg(seed: number, width = SYNTH_WIDTH, height = SYNTH_HEIGHT): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const raw = Buffer.alloc(width * height * 3);
  let state = (seed * 2654435761) >>> 0 || 1;
  const shiftX = (seed * 37) % width;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      state = (state * 1103515245 + 12345) >>> 0;
      const noise = (state >>> 16) & 31;
      raw[i] = Math.min(255, (((x + shiftX) * 255) / width) * 0.8 + noise);
      raw[i + 1] = Math.min(255, ((y * 255) / height) * 0.8 + noise);
      raw[i + 2] = Math.min(255, (((x + y + seed * 13) & 255) * 0.7) + noise);
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

/** Writes `count` synthesized frames into `dir` (frame-000.jpg …) and returns their paths. */
export async function synthesizeFrames(dir: string, count = 16): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(dir, `frame-${String(i).padStart(3, '0')}.jpg`);
    await writeFile(file, await photoLikeJpeg(i + 1));
    files.push(file);
  }
  return files;
}

/** The images of a folder (what folder replay would send), at most `limit` of them, read into memory. */
export async function loadFrames(dir: string, limit = 64): Promise<{ files: string[]; frames: Buffer[] }> {
  const files = (await listImages(dir)).slice(0, limit);
  if (files.length === 0) throw new EdgecamError('BENCH_NO_FRAMES', `No images in ${dir}; pass --frames <folder with .jpg/.png/.webp files> or leave it out to use synthesized 640×480 frames.`);
  return { files, frames: await Promise.all(files.map((f) => readFile(f))) };
}
