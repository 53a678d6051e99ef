import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { ImageError } from '../../src/errors.js';
import type { PreprocessSpec } from '../../src/models/manifest.js';
import { decodeImageInfo, preprocessImage } from '../../src/preprocess/image.js';
import { encode } from './images.js';

const spec: PreprocessSpec = {
  resize: 'squash', size: [8, 8], scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0], layout: 'NCHW', colorOrder: 'RGB',
};

/** A photo-like JPEG (noise compresses badly, so half of it is missing real scan data). */
async function noisyJpeg(): Promise<Buffer> {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
  return encode(128, 96, 3, () => [rnd(), rnd(), rnd()], 'jpeg');
}

/** A valid PNG whose IHDR claims width×height (CRC fixed up), with tiny pixel data: a decompression bomb's header. */
async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await encode(4, 4, 3, () => [1, 2, 3]));
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ImageError, `expected ImageError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('zero bytes → IMAGE_EMPTY', async () => {
  await rejectsWith(preprocessImage(new Uint8Array(0), spec), 'IMAGE_EMPTY', /empty/);
  await rejectsWith(decodeImageInfo(new Uint8Array(0)), 'IMAGE_EMPTY', /empty/);
});

test('text and random bytes → IMAGE_UNREADABLE naming the formats we read', async () => {
  await rejectsWith(preprocessImage(Buffer.from('this is a text file, not a photo\n'), spec), 'IMAGE_UNREADABLE', /JPEG, PNG/);
  await rejectsWith(decodeImageInfo(Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3])), 'IMAGE_UNREADABLE', /JPEG, PNG/);
});

test('a truncated JPEG is an error, not a silently grey frame', async () => {
  const jpeg = await noisyJpeg();
  await preprocessImage(jpeg, spec); // the whole file is fine
  await rejectsWith(preprocessImage(jpeg.subarray(0, jpeg.length >> 1), spec), 'IMAGE_UNREADABLE', /truncated|corrupt/);
});

test('a truncated PNG is an error', async () => {
  const png = await encode(64, 64, 3, (x, y) => [x * 4, y * 4, (x * y) & 255]);
  await rejectsWith(preprocessImage(png.subarray(0, png.length - 40), spec), 'IMAGE_UNREADABLE', /./);
});

test('a header claiming a huge image → IMAGE_TOO_LARGE before decoding', async () => {
  const bomb = await pngClaiming(50_000, 50_000);
  await rejectsWith(preprocessImage(bomb, spec), 'IMAGE_TOO_LARGE', /megapixels/);
  await rejectsWith(decodeImageInfo(bomb), 'IMAGE_TOO_LARGE', /megapixels/);
});

test('decodeImageInfo reads size and format from the header', async () => {
  const info = await decodeImageInfo(await encode(30, 20, 4, () => [1, 2, 3, 4]));
  assert.deepEqual(info, { width: 30, height: 20, format: 'png', orientation: undefined, hasAlpha: true });
});
