import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { silentLogger } from '../../src/logger.js';
import { systemClock, type Frame } from '../../src/types.js';
import { createCaptureSource, createWatchedSource, parseSourceSpec } from '../../src/capture/create.js';
import { CaptureError } from '../../src/capture/errors.js';
import { FfmpegSource } from '../../src/capture/ffmpeg-source.js';
import { FolderSource } from '../../src/capture/folder-source.js';
import { SnapshotSource } from '../../src/capture/snapshot-source.js';
import { WebcamSource } from '../../src/capture/webcam-source.js';
import type { CameraStatus } from '../../src/capture/source.js';

const deps = { logger: silentLogger(), clock: systemClock };
const invalid = (pattern: RegExp) => (e: unknown) => e instanceof CaptureError && e.code === 'CAPTURE_SPEC_INVALID' && pattern.test(e.message);

test('each kind builds its source; only the first colon separates kind and target', () => {
  assert.ok(createCaptureSource(deps, 'folder:./samples') instanceof FolderSource);
  const ff = createCaptureSource(deps, 'ffmpeg:rtsp://u:pw@cam:554/live');
  assert.ok(ff instanceof FfmpegSource);
  assert.equal(ff.description, 'ffmpeg:rtsp://u:***@cam:554/live');
  assert.ok(createCaptureSource(deps, 'webcam:/dev/video1') instanceof WebcamSource);
  assert.ok(createCaptureSource(deps, 'snapshot:http://10.0.0.9/capture') instanceof SnapshotSource);
  assert.deepEqual(parseSourceSpec('ffmpeg:-f lavfi -i testsrc'), { kind: 'ffmpeg', target: '-f lavfi -i testsrc' });
});

test('unknown or incomplete specs fail with a suggestion and never echo a password', () => {
  assert.throws(() => createCaptureSource(deps, 'usb:/dev/video0'), invalid(/Unknown capture source "usb:\/dev\/video0".*folder:<dir>/));
  assert.throws(() => createCaptureSource(deps, 'rtsp://admin:pw@cam/x'), (e: unknown) => invalid(/Did you mean ffmpeg:rtsp:\/\/admin:\*\*\*@cam\/x\?/)(e) && !(e as Error).message.includes(':pw@'));
  assert.throws(() => createCaptureSource(deps, 'http://cam/jpg'), invalid(/snapshot:http:\/\/cam\/jpg/));
  assert.throws(() => createCaptureSource(deps, '/dev/video0'), invalid(/webcam:\/dev\/video0/));
  assert.throws(() => createCaptureSource(deps, './pictures'), invalid(/folder:\.\/pictures/));
  assert.throws(() => createCaptureSource(deps, 'folder:'), invalid(/names no folder target/));
  assert.throws(() => createCaptureSource(deps, 'webcam:/dev/video0;reboot'), invalid(/not a camera device path/));
  assert.throws(() => createCaptureSource(deps, 'ffmpeg:-f lavfi'), invalid(/has no -i/));
});

test('createWatchedSource checks the spec up front and replays a folder through the watchdog', { timeout: 10_000 }, async (t) => {
  assert.throws(() => createWatchedSource(deps, 'nope:x'), invalid(/Unknown capture source/));
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-create-'));
  t.after(() => rm(dir, { recursive: true }));
  for (const name of ['a.jpg', 'b.jpg']) {
    await writeFile(join(dir, name), await sharp({ create: { width: 4, height: 4, channels: 3, background: 'white' } }).jpeg().toBuffer());
  }
  const watched = createWatchedSource(deps, `folder:${dir}`, { fps: 100, loop: false });
  assert.equal(watched.description, `folder:${dir}`);
  const frames: Frame[] = [];
  const statuses: CameraStatus[] = [];
  watched.on('frame', (f) => frames.push(f));
  watched.on('status', (s) => statuses.push(s));
  const ended = new Promise<void>((resolve) => watched.on('end', resolve));
  await watched.start();
  await ended;
  await watched.stop();
  assert.deepEqual(frames.map((f) => f.origin), [join(dir, 'a.jpg'), join(dir, 'b.jpg')]);
  assert.deepEqual(statuses, ['starting', 'online', 'offline']);
});
