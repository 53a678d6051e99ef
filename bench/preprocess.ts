/**
 * How long preprocessImage takes per frame: `npx tsc -p . && node dist/bench/preprocess.js [frames]`.
 * A synthesized 640×480 JPEG (gradient + noise, so it compresses like a photo) → 224×224 float tensor,
 * for each resize mode, one at a time (latency) and 4 in flight (throughput on 2 cores).
 */
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import type { PreprocessSpec } from '../src/models/manifest.js';
import { preprocessImage } from '../src/preprocess/image.js';

async function photoLikeJpeg(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let seed = 1;
  for (let i = 0; i < raw.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const x = (i / 3) % width, y = Math.floor(i / 3 / width);
    raw[i] = Math.min(255, ((x + y * (i % 3)) & 255) * 0.7 + ((seed >>> 16) & 63));
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

const imagenet = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], padColor: [0, 0, 0] };
const specs: Record<string, PreprocessSpec> = {
  'shorter-side 256 → 224 NCHW': { resize: 'shorter-side-then-center-crop', resizeShorterTo: 256, size: [224, 224], layout: 'NCHW', colorOrder: 'RGB', ...imagenet },
  'cover 224 NCHW': { resize: 'cover', size: [224, 224], layout: 'NCHW', colorOrder: 'RGB', ...imagenet },
  'contain 224 NHWC': { resize: 'contain', size: [224, 224], layout: 'NHWC', colorOrder: 'RGB', ...imagenet },
  'squash 224 NHWC BGR': { resize: 'squash', size: [224, 224], layout: 'NHWC', colorOrder: 'BGR', ...imagenet },
};

/** sharp alone (decode + resize to 224×224 raw RGB, no float conversion): the floor our function builds on. */
async function sharpOnly(jpeg: Buffer): Promise<void> {
  await sharp(jpeg).resize(224, 224, { kernel: 'linear' }).raw().toBuffer();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const frames = Number(process.argv[2] ?? 200);
  const jpeg = await photoLikeJpeg(640, 480);
  console.log(`input: 640×480 JPEG, ${jpeg.length} bytes; ${frames} frames per case; sharp ${sharp.versions.sharp}, vips ${sharp.versions.vips}`);
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['baseline: sharp → 224 raw only', () => sharpOnly(jpeg)],
    ...Object.entries(specs).map(([name, spec]): [string, () => Promise<unknown>] => [name, () => preprocessImage(jpeg, spec)]),
  ];
  for (const [name, run] of cases) {
    for (let i = 0; i < 10; i++) await run(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < frames; i++) {
      const t0 = performance.now();
      await run();
      times.push(performance.now() - t0);
    }
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => { while (next++ < frames) await run(); }));
    const fps = frames / ((performance.now() - t0) / 1000);
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`${name.padEnd(30)} median ${median(times).toFixed(2)} ms/frame, p90 ${sorted[Math.floor(frames * 0.9)].toFixed(2)} ms; 4 in flight: ${fps.toFixed(0)} frames/s`);
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
