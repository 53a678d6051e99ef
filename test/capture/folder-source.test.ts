import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { silentLogger } from '../../src/logger.js';
import type { Frame } from '../../src/types.js';
import { FolderSource } from '../../src/capture/folder-source.js';
import { CaptureError } from '../../src/capture/errors.js';
import { FakeClock, flush } from './fake-clock.js';

async function makeFolder(names: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-folder-'));
  for (const [i, name] of names.entries()) {
    if (!/\.(jpe?g|png)$/.test(name)) { await writeFile(join(dir, name), 'not an image'); continue; }
    const img = sharp({ create: { width: 8, height: 8, channels: 3, background: { r: i * 40, g: 0, b: 0 } } });
    await writeFile(join(dir, name), await (name.endsWith('.png') ? img.png() : img.jpeg()).toBuffer());
  }
  return dir;
}

/** Waits (in real time) until `frames` has `n` entries: file reads complete on the thread pool, not on the fake clock. */
async function until(frames: Frame[], n: number): Promise<void> {
  for (let i = 0; i < 200 && frames.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(frames.length, n);
}

test('replays images in natural order at fps, with the file path as origin, looping', async (t) => {
  const dir = await makeFolder(['img10.jpg', 'img2.png', 'img1.jpg', 'notes.txt']);
  t.after(() => rm(dir, { recursive: true }));
  const clock = new FakeClock();
  const source = new FolderSource({ logger: silentLogger(), clock }, { dir, fps: 2 });
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  await source.start();
  await clock.advance(0);
  await until(frames, 1);
  await clock.advance(499);
  await flush();
  assert.equal(frames.length, 1, 'the second frame is not due before 500 ms');
  await clock.advance(1);
  await until(frames, 2);
  for (let n = 3; n <= 5; n++) { await clock.advance(500); await until(frames, n); }
  assert.deepEqual(frames.map((f) => f.origin), ['img1.jpg', 'img2.png', 'img10.jpg', 'img1.jpg', 'img2.png'].map((n) => join(dir, n)));
  assert.deepEqual(frames.map((f) => f.timestamp - frames[0]!.timestamp), [0, 500, 1000, 1500, 2000]);
  assert.equal((await sharp(frames[1]!.data).metadata()).format, 'png');
  await source.stop();
  await source.stop();
  assert.equal(clock.pending(), 0);
});

test("loop: false emits every image once, then 'end' and offline; fps 0 replays unpaced", async (t) => {
  const dir = await makeFolder(['a.jpg', 'b.jpg', 'c.jpg']);
  t.after(() => rm(dir, { recursive: true }));
  const clock = new FakeClock();
  const source = new FolderSource({ logger: silentLogger(), clock }, { dir, fps: 0, loop: false });
  const frames: Frame[] = [];
  let ended = false;
  source.on('frame', (f) => frames.push(f));
  source.on('end', () => { ended = true; });
  await source.start();
  for (let i = 0; i < 50 && !ended; i++) { await clock.advance(0); await new Promise((r) => setTimeout(r, 5)); }
  assert.ok(ended);
  assert.equal(frames.length, 3);
  assert.equal(new Set(frames.map((f) => f.timestamp)).size, 1, 'no pacing delay with fps 0');
  assert.equal(source.status, 'offline');
  assert.equal(clock.pending(), 0);
});

test('an empty or missing folder fails at start with a clear error', async (t) => {
  const dir = await makeFolder(['readme.txt']);
  t.after(() => rm(dir, { recursive: true }));
  const deps = { logger: silentLogger(), clock: new FakeClock() };
  await assert.rejects(new FolderSource(deps, { dir }).start(), (e: unknown) => e instanceof CaptureError && e.code === 'FOLDER_EMPTY' && e.message.includes(dir));
  await assert.rejects(new FolderSource(deps, { dir: join(dir, 'nope') }).start(), (e: unknown) => e instanceof CaptureError && e.code === 'FOLDER_UNREADABLE');
});

test('unreadable files are skipped and counted; a pass with nothing readable fails the source', async (t) => {
  const dir = await makeFolder(['a.jpg']);
  t.after(() => rm(dir, { recursive: true }));
  await mkdir(join(dir, 'z.jpg')); // a directory named like an image: readFile fails with EISDIR
  const clock = new FakeClock();
  const source = new FolderSource({ logger: silentLogger(), clock }, { dir, fps: 1000 });
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  await source.start();
  // Real file reads between fake ticks: up to 1000 rounds (a bound, left early), enough on a loaded 2-core machine
  // where 20 rounds (~100 ms) was sometimes too few for two reads.
  for (let i = 0; i < 1000 && source.skippedFiles < 2; i++) { await clock.advance(1); await new Promise((r) => setTimeout(r, 5)); }
  assert.ok(source.skippedFiles >= 2);
  assert.ok(frames.length >= 2);
  assert.ok(frames.every((f) => f.origin === join(dir, 'a.jpg')));
  await source.stop();

  await rm(join(dir, 'a.jpg'));
  const broken = new FolderSource({ logger: silentLogger(), clock }, { dir, fps: 1000 });
  const failed = new Promise<Error>((resolve) => broken.on('error', resolve));
  await broken.start();
  for (let i = 0; i < 1000 && broken.status !== 'offline'; i++) { await clock.advance(1); await new Promise((r) => setTimeout(r, 5)); }
  assert.equal((await failed as CaptureError).code, 'FOLDER_UNREADABLE');
  await broken.stop();
});

test('repeat: each image is emitted that many times in a row before the next one', async () => {
  const { systemClock } = await import('../../src/types.js');
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-repeat-'));
  for (const [name, colour] of [['a', '#f00'], ['b', '#00f']]) {
    await writeFile(join(dir, `${name}.png`), await sharp({ create: { width: 4, height: 4, channels: 3, background: colour! } }).png().toBuffer());
  }
  const source = new FolderSource({ logger: silentLogger(), clock: systemClock }, { dir, fps: 0, loop: false, repeat: 3 });
  const origins: string[] = [];
  source.on('frame', (f: Frame) => origins.push((f.origin ?? '').split('/').pop()!));
  const ended = new Promise<void>((r) => source.once('end', () => r()));
  await source.start();
  await ended;
  await source.stop();
  await rm(dir, { recursive: true, force: true });
  assert.deepEqual(origins, ['a.png', 'a.png', 'a.png', 'b.png', 'b.png', 'b.png']);
});
