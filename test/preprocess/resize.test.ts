import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PreprocessSpec } from '../../src/models/manifest.js';
import { preprocessImage, shorterSideCropGeometry } from '../../src/preprocess/image.js';
import { BLUE, GREEN, RED, bands, encode, near, pixelAt, type Rgb } from './images.js';

/** Identity normalisation so tensor values are pixel values and geometry is easy to read. */
function spec(resize: PreprocessSpec['resize'], size: [number, number], extra: Partial<PreprocessSpec> = {}): PreprocessSpec {
  return { resize, size, scale: 1, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0], layout: 'NCHW', colorOrder: 'RGB', ...extra };
}

/** 400×200, red | green | blue with the green band narrow: columns 0-129 red, 130-269 green, 270-399 blue. */
const threeBands = () => encode(400, 200, 3, bands([0, 130, 270], [RED, GREEN, BLUE]));

/** Colour of each column of row `y`, summarised as R/G/B/? per column (? = blurred edge). */
function rowColours(data: Float32Array, width: number, height: number, y: number): string {
  let s = '';
  for (let x = 0; x < width; x++) {
    const p = pixelAt(data, width, height, x, y);
    s += near(p, RED, 8) ? 'R' : near(p, GREEN, 8) ? 'G' : near(p, BLUE, 8) ? 'B' : near(p, [9, 9, 9], 9) ? 'k' : '?';
  }
  return s;
}

test('shorter-side-then-center-crop: resize shorter side to 100 (→200×100), then centre 50×50 = original columns 150-249', async () => {
  const t = await preprocessImage(await threeBands(), spec('shorter-side-then-center-crop', [50, 50], { resizeShorterTo: 100 }));
  assert.deepEqual(t.dims, [1, 3, 50, 50]);
  for (const y of [0, 25, 49]) assert.equal(rowColours(t.data, 50, 50, y), 'G'.repeat(50), `row ${y}`);
});

test('cover: scale to fill (→100×50), crop centre 50×50 = original columns 100-299: red, green, blue', async () => {
  const t = await preprocessImage(await threeBands(), spec('cover', [50, 50]));
  const row = rowColours(t.data, 50, 50, 25);
  // Resized band edges at 32.5 and 67.5 → crop columns 7.5 and 42.5.
  assert.match(row, /^R{6,8}.{0,3}G{32,36}.{0,3}B{6,8}$/, row);
});

test('contain: whole image kept, padded with padColor above and below', async () => {
  const padColor: Rgb = [9, 9, 9];
  const t = await preprocessImage(await threeBands(), spec('contain', [50, 50], { padColor }));
  // 400×200 → 50×25, centred vertically: rows 0-11 and 38-49 are padding (12.5 rows each side).
  for (const y of [0, 10, 40, 49]) assert.equal(rowColours(t.data, 50, 50, y), 'k'.repeat(50), `row ${y} should be padding`);
  const middle = rowColours(t.data, 50, 50, 25);
  assert.match(middle, /^R{15,17}.{0,3}G{16,18}.{0,3}B{15,17}$/, middle);
});

test('squash: aspect ratio ignored, all three bands stretched into the square', async () => {
  const t = await preprocessImage(await threeBands(), spec('squash', [40, 40]));
  for (const y of [0, 20, 39]) {
    const row = rowColours(t.data, 40, 40, y);
    // Band edges at 13 and 27 of 40.
    assert.match(row, /^R{12,13}.{0,2}G{12,14}.{0,2}B{12,13}$/, `row ${y}: ${row}`);
  }
});

test('non-square target on a portrait image keeps orientation: [height, width] order respected', async () => {
  // 60 wide × 120 tall; top half red, bottom half blue; squash to height 30, width 10.
  const png = await encode(60, 120, 3, (_x, y) => (y < 60 ? RED : BLUE));
  const t = await preprocessImage(png, spec('squash', [30, 10]));
  assert.deepEqual(t.dims, [1, 3, 30, 10]);
  assert.ok(near(pixelAt(t.data, 10, 30, 5, 3), RED, 8));
  assert.ok(near(pixelAt(t.data, 10, 30, 5, 26), BLUE, 8));
});

test('shorterSideCropGeometry follows torchvision Resize(256) + CenterCrop(224)', () => {
  // 640×480 → 341×256 (int(256*640/480) = 341), crop left round(117/2) = 58 (torchvision: int(round(58.5)) = 58), top 16.
  assert.deepEqual(shorterSideCropGeometry(640, 480, 256, [224, 224]), { resizeWidth: 341, resizeHeight: 256, left: 58, top: 16 });
  // Portrait: 480×640 → 256×341.
  assert.deepEqual(shorterSideCropGeometry(480, 640, 256, [224, 224]), { resizeWidth: 256, resizeHeight: 341, left: 16, top: 58 });
  // Crop bigger than the resized image: grown to fit instead of padding.
  const g = shorterSideCropGeometry(100, 100, 50, [80, 80]);
  assert.deepEqual(g, { resizeWidth: 80, resizeHeight: 80, left: 0, top: 0 });
});
