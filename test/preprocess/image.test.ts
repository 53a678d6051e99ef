import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { PreprocessSpec } from '../../src/models/manifest.js';
import { decodeImageInfo, preprocessImage, preprocessInto } from '../../src/preprocess/image.js';
import { encode, type Rgb } from './images.js';

/** Four quadrants whose channels all differ, so any channel, plane or position mix-up changes the numbers. */
const TL: Rgb = [200, 50, 10];
const TR: Rgb = [30, 220, 90];
const BL: Rgb = [120, 5, 250];
const BR: Rgb = [60, 160, 0];
const W = 16;
const H = 8;
const quadrant = (x: number, y: number): Rgb => (y < H / 2 ? (x < W / 2 ? TL : TR) : x < W / 2 ? BL : BR);

const base: PreprocessSpec = {
  resize: 'squash', size: [H, W], scale: 1 / 255, mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 0.125], padColor: [0, 0, 0],
  layout: 'NCHW', colorOrder: 'RGB',
};

/** Independent reference: the tensor written element by element from the formula in the manifest docs. */
function expected(spec: PreprocessSpec): Float32Array {
  const out = new Float32Array(3 * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let k = 0; k < 3; k++) {
        const src = spec.colorOrder === 'RGB' ? k : 2 - k; // model channel k holds this RGB colour
        const value = (quadrant(x, y)[src] * spec.scale - spec.mean[src]) / spec.std[src];
        const index = spec.layout === 'NCHW' ? k * H * W + y * W + x : (y * W + x) * 3 + k;
        out[index] = value;
      }
    }
  }
  return out;
}

function assertClose(actual: Float32Array, wanted: Float32Array, tol = 1e-6): void {
  assert.equal(actual.length, wanted.length);
  for (let i = 0; i < wanted.length; i++) {
    if (Math.abs(actual[i] - wanted[i]) > tol) assert.fail(`element ${i}: got ${actual[i]}, expected ${wanted[i]}`);
  }
}

test('NCHW RGB: values equal hand-computed (p*scale - mean)/std, planar', async () => {
  const png = await encode(W, H, 3, quadrant);
  const t = await preprocessImage(png, base);
  assert.deepEqual(t.dims, [1, 3, H, W]);
  // Worked by hand: red plane, top-left pixel: (200/255 - 0.1) / 0.5 = 1.3686275
  assert.ok(Math.abs(t.data[0] - 1.3686275) < 1e-6, `R[0,0] = ${t.data[0]}`);
  // Green plane starts after H*W reds: (50/255 - 0.2) / 0.25 = -0.0156863
  assert.ok(Math.abs(t.data[H * W] - -0.0156863) < 1e-6, `G[0,0] = ${t.data[H * W]}`);
  // Blue plane, bottom-right pixel (last element): (0/255 - 0.3) / 0.125 = -2.4
  assert.ok(Math.abs(t.data[3 * H * W - 1] - -2.4) < 1e-6, `B[7,15] = ${t.data[3 * H * W - 1]}`);
  assertClose(t.data, expected(base));
});

test('every layout × colour order matches the reference, and each differs from the others', async () => {
  const png = await encode(W, H, 3, quadrant);
  const outputs: Float32Array[] = [];
  for (const layout of ['NCHW', 'NHWC'] as const) {
    for (const colorOrder of ['RGB', 'BGR'] as const) {
      const spec = { ...base, layout, colorOrder };
      const t = await preprocessImage(png, spec);
      assert.deepEqual(t.dims, layout === 'NCHW' ? [1, 3, H, W] : [1, H, W, 3]);
      assertClose(t.data, expected(spec));
      outputs.push(t.data);
    }
  }
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < outputs.length; j++) assert.notDeepEqual(outputs[i], outputs[j], `variants ${i} and ${j} gave the same tensor`);
  }
  // NHWC BGR, first pixel, by hand: blue first: (10/255 - 0.3)/0.125 = -2.0862745, then green, then red.
  const nhwcBgr = outputs[3];
  assert.ok(Math.abs(nhwcBgr[0] - -2.0862745) < 1e-6);
  assert.ok(Math.abs(nhwcBgr[2] - 1.3686275) < 1e-6);
});

test('scale, mean and std are each applied (changing one changes the tensor as the formula says)', async () => {
  const png = await encode(W, H, 3, quadrant);
  const identity = await preprocessImage(png, { ...base, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] });
  assert.equal(identity.data[0], 200); // raw red of TL
  const scaled = await preprocessImage(png, { ...base, scale: 2, mean: [0, 0, 0], std: [1, 1, 1] });
  assert.equal(scaled.data[0], 400);
  const meaned = await preprocessImage(png, { ...base, scale: 1, mean: [100, 0, 0], std: [1, 1, 1] });
  assert.equal(meaned.data[0], 100);
  assert.equal(meaned.data[H * W], 50, 'mean[0] must not touch green');
  const stdd = await preprocessImage(png, { ...base, scale: 1, mean: [0, 0, 0], std: [1, 10, 1] });
  assert.equal(stdd.data[H * W], 5);
  assert.equal(stdd.data[0], 200, 'std[1] must not touch red');
});

test('preprocessInto writes at an offset and leaves the rest of the batch alone', async () => {
  const png = await encode(W, H, 3, quadrant);
  const n = 3 * H * W;
  const batch = new Float32Array(2 * n).fill(-99);
  await preprocessInto(png, base, batch, n);
  assert.ok(batch.subarray(0, n).every((v) => v === -99));
  assertClose(batch.subarray(n), expected(base));
  await assert.rejects(preprocessInto(png, base, batch, n + 1), RangeError);
});

test('alpha is flattened onto padColor; greyscale becomes three equal channels', async () => {
  // Left half opaque red, right half fully transparent (its hidden colour is blue and must not show).
  const rgba = await encode(8, 4, 4, (x) => (x < 4 ? [255, 0, 0, 255] : [0, 0, 255, 0]));
  const spec: PreprocessSpec = { ...base, size: [4, 8], scale: 1, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 255, 0] };
  const t = await preprocessImage(rgba, spec);
  const plane = 32;
  assert.deepEqual([t.data[0], t.data[plane], t.data[2 * plane]], [255, 0, 0]);
  assert.deepEqual([t.data[7], t.data[plane + 7], t.data[2 * plane + 7]], [0, 255, 0]);

  const grey = await encode(8, 4, 1, () => [77]);
  const g = await preprocessImage(grey, spec);
  assert.deepEqual([g.data[5], g.data[plane + 5], g.data[2 * plane + 5]], [77, 77, 77]);
});

test('EXIF orientation is applied before resizing', async () => {
  // Stored 40×20: left half red, right half blue. Orientation 6 = display rotated 90° clockwise,
  // so the displayed image is 20×40 with red on top.
  const raw = await encode(40, 20, 3, (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]));
  const jpeg = await sharp(raw).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const info = await decodeImageInfo(jpeg);
  assert.deepEqual([info.width, info.height, info.orientation], [20, 40, 6]);

  const spec: PreprocessSpec = { ...base, size: [40, 20], scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
  const t = await preprocessImage(jpeg, spec);
  const plane = 800;
  const at = (x: number, y: number) => [0, 1, 2].map((c) => t.data[c * plane + y * 20 + x]);
  const [topR, , topB] = at(10, 5);
  const [botR, , botB] = at(10, 34);
  assert.ok(topR > 200 && topB < 50, `top should be red, got ${at(10, 5)}`);
  assert.ok(botB > 200 && botR < 50, `bottom should be blue, got ${at(10, 34)}`);
});
