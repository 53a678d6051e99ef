import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { MjpegSplitter } from '../../src/capture/mjpeg-splitter.js';

async function jpeg(seed: number, options: { progressive?: boolean } = {}): Promise<Buffer> {
  const raw = Buffer.alloc(48 * 32 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + seed * 31) & 0xff;
  return sharp(raw, { raw: { width: 48, height: 32, channels: 3 } }).jpeg({ quality: 80, progressive: options.progressive ?? false }).toBuffer();
}

/** Inserts an APP1 segment carrying a fake embedded thumbnail (SOI…EOI) right after the SOI, like EXIF does. */
function withThumbnail(image: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0'), Buffer.from([0xff, 0xd8, 0xff, 0xd9, 0xff, 0xd9])]);
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xffe1, 0);
  segment.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([image.subarray(0, 2), segment, payload, image.subarray(2)]);
}

function feed(splitter: MjpegSplitter, stream: Buffer, chunkSizes: (i: number) => number): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < stream.length; i++) {
    const n = Math.max(1, chunkSizes(i));
    out.push(...splitter.push(stream.subarray(pos, pos + n)));
    pos += n;
  }
  return out;
}

test('splits concatenated JPEGs in one chunk into the exact frames', async () => {
  const frames = await Promise.all([1, 2, 3].map((s) => jpeg(s)));
  const out = new MjpegSplitter().push(Buffer.concat(frames));
  assert.deepEqual(out, frames);
});

test('frames split across chunks of any size come out whole (byte by byte, odd sizes)', async () => {
  const frames = await Promise.all([4, 5, 6].map((s) => jpeg(s)));
  const stream = Buffer.concat(frames);
  for (const sizes of [() => 1, (i: number) => (i * 37) % 101 + 1, () => 4096]) {
    const splitter = new MjpegSplitter();
    assert.deepEqual(feed(splitter, stream, sizes), frames);
    assert.equal(splitter.bufferedBytes, 0);
    assert.equal(splitter.droppedFrames, 0);
  }
});

test('garbage between frames is discarded and counted; frames stay intact and decodable', async () => {
  const [a, b] = await Promise.all([jpeg(7), jpeg(8)]);
  const garbage1 = Buffer.from('HTTP/1.1 200 OK\r\n--ffmpeg\r\nContent-type: image/jpeg\r\n\r\n');
  const garbage2 = Buffer.from([0x00, 0xff, 0x00, 0xd9, 0xff, 0xff, 0x12]);
  const stream = Buffer.concat([garbage1, a!, garbage2, b!, Buffer.from('tail')]);
  const splitter = new MjpegSplitter();
  const out = feed(splitter, stream, (i) => (i % 3) + 5);
  assert.deepEqual(out, [a, b]);
  assert.equal(splitter.discardedBytes, garbage1.length + garbage2.length + 'tail'.length);
  for (const frame of out) assert.equal((await sharp(frame).metadata()).width, 48);
});

test('an EOI marker inside an APP1 thumbnail does not cut the frame', async () => {
  const image = withThumbnail(await jpeg(9));
  const out = new MjpegSplitter().push(Buffer.concat([image, image]));
  assert.equal(out.length, 2);
  assert.deepEqual(out[0], image);
  assert.equal((await sharp(out[0]!).metadata()).height, 32);
});

test('progressive JPEGs (several scans with markers between them) are one frame each', async () => {
  const frames = await Promise.all([10, 11].map((s) => jpeg(s, { progressive: true })));
  assert.deepEqual(feed(new MjpegSplitter(), Buffer.concat(frames), () => 333), frames);
});

test('a truncated frame followed by a new one is dropped and the next one kept', async () => {
  const [a, b] = await Promise.all([jpeg(12), jpeg(13)]);
  const splitter = new MjpegSplitter();
  const out = feed(splitter, Buffer.concat([a!.subarray(0, Math.floor(a!.length / 2)), b!]), () => 1000);
  assert.deepEqual(out, [b]);
  assert.equal(splitter.droppedFrames, 1);
});

test('10 MB of garbage without markers yields nothing and keeps at most one byte buffered', () => {
  const splitter = new MjpegSplitter();
  const chunk = Buffer.alloc(65536, 0x41);
  chunk[chunk.length - 1] = 0xff; // half an SOI at the end of every chunk
  let frames = 0;
  for (let i = 0; i < 160; i++) {
    frames += splitter.push(chunk).length;
    assert.ok(splitter.bufferedBytes <= 1, `buffered ${splitter.bufferedBytes}`);
  }
  assert.equal(frames, 0);
  assert.ok(splitter.discardedBytes >= 160 * 65536 - 1);
});

test('a frame that never ends is dropped at maxFrameBytes, so memory stays bounded', async () => {
  const maxFrameBytes = 100_000;
  const splitter = new MjpegSplitter({ maxFrameBytes });
  const start = (await jpeg(14)).subarray(0, 700); // SOI, headers and the start of the scan
  let frames = splitter.push(start).length;
  const scanData = Buffer.alloc(8192, 0x55);
  for (let i = 0; i < 200; i++) {
    frames += splitter.push(scanData).length;
    assert.ok(splitter.bufferedBytes <= maxFrameBytes + scanData.length, `buffered ${splitter.bufferedBytes}`);
  }
  assert.equal(frames, 0);
  assert.ok(splitter.droppedFrames >= 1);
  const good = await jpeg(15);
  assert.deepEqual(splitter.push(good), [good], 'recovers on the next real frame');
});

test('reset() forgets a partial frame', async () => {
  const a = await jpeg(16);
  const splitter = new MjpegSplitter();
  splitter.push(a.subarray(0, 100));
  splitter.reset();
  assert.equal(splitter.bufferedBytes, 0);
  assert.deepEqual(splitter.push(a), [a]);
});
