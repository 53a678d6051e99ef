import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { silentLogger } from '../../src/logger.js';
import { systemClock, type Frame } from '../../src/types.js';
import { FfmpegSource } from '../../src/capture/ffmpeg-source.js';
import { CaptureError } from '../../src/capture/errors.js';
import type { CameraStatus } from '../../src/capture/source.js';
import { Watchdog } from '../../src/capture/watchdog.js';
import { garbageSpawn, isProcessGone, lavfiInput, startLavfiMjpegServer, waitFor } from '../fakes/ffmpeg.js';

const deps = () => ({ logger: silentLogger(), clock: systemClock });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collect(source: { on(e: 'frame', f: (fr: Frame) => void): unknown }): Frame[] {
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  return frames;
}

test('live lavfi stream through one ffmpeg: valid JPEG frames at the requested size; stop leaves no process', { timeout: 20_000 }, async () => {
  const source = new FfmpegSource(deps(), { input: lavfiInput({ fps: 10 }), fps: 10, width: 160, height: 120 });
  const frames = collect(source);
  await source.start();
  const pid = source.pid!;
  assert.ok(await waitFor(() => frames.length >= 5, 10_000), `got ${frames.length} frames`);
  await source.stop();
  await source.stop();
  assert.ok(isProcessGone(pid), 'ffmpeg exited and was reaped');
  for (const f of frames.slice(0, 3)) {
    const meta = await sharp(f.data).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.deepEqual([meta.width, meta.height], [160, 120]);
  }
  assert.deepEqual(frames.map((f) => f.seq), frames.map((_, i) => i));
  assert.equal(source.splitterStats.droppedFrames, 0);
});

test('HTTP MJPEG from a separate ffmpeg; server killed and restarted mid-stream: watchdog restarts and frames flow again', { timeout: 20_000 }, async (t) => {
  const server = await startLavfiMjpegServer({ fps: 10 });
  t.after(() => server.stop());
  const statuses: CameraStatus[] = [];
  const watchdog = new Watchdog(deps(), () => new FfmpegSource(deps(), { input: server.url, fps: 10 }),
    { stallTimeoutMs: 2000, backoffInitialMs: 300, backoffMaxMs: 1000 });
  t.after(() => watchdog.stop());
  watchdog.on('status', (s) => statuses.push(s));
  const frames = collect(watchdog);
  await watchdog.start();
  assert.ok(await waitFor(() => frames.length >= 5, 10_000), 'frames from the HTTP stream');
  const killedAt = Date.now();
  await server.kill();
  assert.ok(await waitFor(() => statuses.includes('offline') || statuses.includes('stalled'), 5000), `statuses: ${statuses.join(',')}`);
  t.diagnostic(`server kill detected after ${Date.now() - killedAt} ms (stallTimeout 2000)`);
  await sleep(500);
  await server.restart();
  const before = frames.length;
  assert.ok(await waitFor(() => frames.length >= before + 5, 12_000), `frames after restart; statuses ${statuses.join(',')}`);
  assert.equal(watchdog.status, 'online');
  assert.ok(statuses.includes('restarting'));
  assert.ok(watchdog.restarts >= 1);
  const meta = await sharp(frames.at(-1)!.data).metadata();
  assert.deepEqual([meta.format, meta.width], ['jpeg', 320]);
});

test('a stalled ffmpeg (alive, SIGSTOPped, no output) is detected, killed and replaced', { timeout: 20_000 }, async (t) => {
  const sources: FfmpegSource[] = [];
  const statuses: CameraStatus[] = [];
  const watchdog = new Watchdog(deps(), () => {
    const s = new FfmpegSource(deps(), { input: lavfiInput({ fps: 10 }), fps: 10 });
    sources.push(s);
    return s;
  }, { stallTimeoutMs: 1500, backoffInitialMs: 200 });
  t.after(() => watchdog.stop());
  watchdog.on('status', (s) => statuses.push(s));
  const frames = collect(watchdog);
  await watchdog.start();
  assert.ok(await waitFor(() => frames.length >= 3, 10_000));
  const stalledPid = sources[0]!.pid!;
  process.kill(stalledPid, 'SIGSTOP');
  assert.ok(await waitFor(() => statuses.includes('stalled'), 6000), `statuses: ${statuses.join(',')}`);
  const before = frames.length;
  assert.ok(await waitFor(() => frames.length >= before + 3, 10_000), 'frames from the replacement ffmpeg');
  assert.ok(sources.length >= 2);
  assert.notEqual(sources.at(-1)!.pid, stalledPid);
  assert.ok(await waitFor(() => isProcessGone(stalledPid), 3000), 'the stopped ffmpeg was continued, terminated and reaped');
  const lastPid = sources.at(-1)!.pid!;
  await watchdog.stop();
  assert.ok(isProcessGone(lastPid), 'stop() leaves no ffmpeg behind');
});

test('garbage on stdout: no frames, no crash, splitter memory bounded', { timeout: 20_000 }, async () => {
  const maxFrameBytes = 256 * 1024;
  const source = new FfmpegSource({ ...deps(), spawn: garbageSpawn() }, { input: lavfiInput(), maxFrameBytes });
  const frames = collect(source);
  let maxBuffered = 0;
  const errors: Error[] = [];
  source.on('error', (e) => errors.push(e));
  await source.start();
  const rssBefore = process.memoryUsage().rss;
  const deadline = Date.now() + 2500;
  while (Date.now() < deadline) {
    maxBuffered = Math.max(maxBuffered, source.splitterStats.bufferedBytes);
    await sleep(20);
  }
  const stats = source.splitterStats;
  await source.stop();
  assert.equal(frames.length, 0);
  assert.deepEqual(errors, []);
  assert.ok(stats.discardedBytes > 1_000_000, `garbage processed: ${stats.discardedBytes} bytes`);
  assert.ok(stats.droppedFrames > 10, `fake frame starts abandoned: ${stats.droppedFrames}`);
  assert.ok(maxBuffered <= maxFrameBytes + 65536, `buffered at most ${maxBuffered} bytes`);
  const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1e6;
  assert.ok(rssGrowthMb < 50, `RSS grew ${rssGrowthMb.toFixed(1)} MB`);
});

test('a missing V4L2 device fails with ffmpeg\'s reason and a hint', { timeout: 20_000 }, async () => {
  let device = 90;
  while (existsSync(`/dev/video${device}`)) device += 1;
  const source = new FfmpegSource(deps(), { input: `/dev/video${device}`, fps: 5, width: 320, height: 240 });
  const failed = new Promise<Error>((resolve) => source.on('error', resolve));
  const statuses: CameraStatus[] = [];
  source.on('status', (s) => statuses.push(s));
  await source.start();
  const err = await failed;
  assert.ok(err instanceof CaptureError);
  assert.equal(err.code, 'FFMPEG_EXITED');
  assert.match(err.message, /does not exist/);
  assert.match(err.message, new RegExp(`/dev/video${device}: No such file or directory`));
  assert.equal(statuses.at(-1), 'offline');
  await source.stop();
});

test('credentials in the URL never reach the description or the error', { timeout: 20_000 }, async () => {
  const source = new FfmpegSource(deps(), { input: 'rtsp://admin:hunter2@127.0.0.1:9/stream' });
  const failed = new Promise<Error>((resolve) => source.on('error', resolve));
  await source.start();
  const err = await failed;
  assert.equal(source.description, 'ffmpeg:rtsp://admin:***@127.0.0.1:9/stream');
  assert.match(err.message, /Connection refused/);
  assert.doesNotMatch(err.message, /hunter2/);
  await source.stop();
});

test('ffmpeg not installed: start() rejects with FFMPEG_NOT_FOUND and an install hint', async () => {
  const source = new FfmpegSource(deps(), { input: lavfiInput(), ffmpegPath: '/nonexistent/ffmpeg' });
  await assert.rejects(source.start(), (err: unknown) => err instanceof CaptureError && err.code === 'FFMPEG_NOT_FOUND' && /apt install ffmpeg/.test(err.message));
  await source.stop();
});

test('a camera sending only garbage is treated as stalled by the watchdog and restarted', { timeout: 20_000 }, async (t) => {
  const statuses: CameraStatus[] = [];
  const pids = new Set<number>();
  const sources: FfmpegSource[] = [];
  const watchdog = new Watchdog(deps(), () => {
    const s = new FfmpegSource({ ...deps(), spawn: garbageSpawn() }, { input: lavfiInput() });
    sources.push(s);
    return s;
  }, { stallTimeoutMs: 1000, backoffInitialMs: 100 });
  t.after(() => watchdog.stop());
  watchdog.on('status', (s) => statuses.push(s));
  await watchdog.start();
  const restarted = await waitFor(() => {
    for (const s of sources) if (s.pid) pids.add(s.pid);
    return watchdog.restarts >= 2;
  }, 8000);
  assert.ok(restarted, `statuses ${statuses.join(',')}`);
  await watchdog.stop();
  assert.deepEqual(statuses.slice(0, 5), ['starting', 'stalled', 'restarting', 'stalled', 'restarting']);
  assert.equal(statuses.at(-1), 'offline');
  assert.ok(pids.size >= 2, `saw pids ${[...pids].join(',')}`);
  assert.ok(await waitFor(() => [...pids].every(isProcessGone), 3000), 'every garbage process ended and was reaped');
});
