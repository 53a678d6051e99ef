import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Collector, type CollectOptions, type FrameOffer } from '../../src/collect/collector.js';
import { listFrames } from '../../src/collect/frames.js';
import { collectorMetrics } from '../../src/collect/metrics.js';
import { renderPrometheus } from '../../src/http/metrics.js';
import { setLabels } from '../../src/collect/labels.js';
import { silentLogger } from '../../src/logger.js';
import { FakeClock } from '../fakes/clock.js';

/** A 64×48 JPEG: a grey background with a bright square at `x` (different x → a different scene). */
async function sceneJpeg(x: number, noise = 0): Promise<Buffer> {
  const square = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 250, g: 250, b: 250 } } }).png().toBuffer();
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 40 + noise, g: 40 + noise, b: 40 + noise } } })
    .composite([{ input: square, left: x, top: 16 }]).jpeg({ quality: 90 }).toBuffer();
}

const base = { lowConfidence: 0.6, onChange: true, sampleIntervalSeconds: 0, duplicateThreshold: 3, maxFiles: 100, maxMegabytes: 100 };

async function setup(over: Partial<CollectOptions> = {}, write?: (p: string, c: Uint8Array | string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-collect-'));
  const clock = new FakeClock();
  const collector = new Collector({ logger: silentLogger(), clock, ...(write ? { write } : {}) }, { ...base, dir, camera: 'door', ...over });
  await collector.start();
  return { dir, clock, collector };
}

let seq = 0;
function offer(data: Buffer, clock: FakeClock, over: Partial<FrameOffer> = {}): FrameOffer {
  return { frame: { data, timestamp: clock.now(), seq: ++seq, origin: '/cam/x.jpg' }, label: 'cat', confidence: 0.3, stableChanged: false, scores: { cat: 0.3, dog: 0.7 }, model: { name: 'm', version: '1' }, ...over };
}

/** Waits for the collector's background save (offers are fire-and-forget by design). */
async function settle(c: Collector): Promise<void> {
  await c.idle();
}

test('keeps low-confidence and label-change frames with a sidecar; confident repeats are not kept', async () => {
  const { dir, clock, collector } = await setup();
  collector.offer(offer(await sceneJpeg(0), clock, { confidence: 0.95 }));
  await settle(collector);
  assert.equal(collector.counters.saved, 0, 'a confident, unchanged frame is not worth keeping');
  collector.offer(offer(await sceneJpeg(10), clock, { confidence: 0.4 }));
  await settle(collector);
  clock.advance(1000);
  collector.offer(offer(await sceneJpeg(30), clock, { confidence: 0.9, stableChanged: true, label: 'dog', stableLabel: 'dog' }));
  await settle(collector);
  const frames = await listFrames(dir);
  assert.equal(frames.length, 2);
  const sidecars = await Promise.all(frames.map(async (f) => JSON.parse(await readFile(f.sidecar, 'utf8')) as Record<string, unknown>));
  assert.deepEqual(sidecars.map((s) => s.reason), ['low-confidence', 'label-changed']);
  assert.deepEqual(sidecars[0]!.model, { name: 'm', version: '1' });
  assert.equal(sidecars[0]!.camera, 'door');
  assert.deepEqual(sidecars[0]!.scores, { cat: 0.3, dog: 0.7 });
  assert.equal((sidecars[1]!.predicted as { label: string }).label, 'dog');
  assert.equal(sidecars[0]!.id, frames[0]!.id);
  await collector.stop();
  await rm(dir, { recursive: true, force: true });
});

test('near-duplicates of a static scene are skipped; a changed scene is kept', async () => {
  const { dir, clock, collector } = await setup();
  const still = await sceneJpeg(5);
  for (let i = 0; i < 4; i++) {
    collector.offer(offer(i === 2 ? await sceneJpeg(5, 1) : still, clock));
    await settle(collector);
    clock.advance(500);
  }
  assert.equal(collector.counters.saved, 1);
  assert.equal(collector.counters.duplicates, 3);
  collector.offer(offer(await sceneJpeg(40), clock));
  await settle(collector);
  assert.equal(collector.counters.saved, 2);
  await rm(dir, { recursive: true, force: true });
});

test('periodic sample keeps one frame per interval', async () => {
  const { dir, clock, collector } = await setup({ sampleIntervalSeconds: 60, duplicateThreshold: 0 });
  for (let i = 0; i < 6; i++) {
    collector.offer(offer(await sceneJpeg(i * 5), clock, { confidence: 0.99 }));
    await settle(collector);
    clock.advance(25_000);
  }
  // t = 0, 25, 50, 75, 100, 125 s → samples at 0, 75 (≥60 after 0) and 125 is only 50 s later: 2 kept… and 150? not offered.
  assert.equal(collector.counters.saved, 2);
  await rm(dir, { recursive: true, force: true });
});

test('quota: the oldest unlabelled frames are evicted, labelled ones never; only labelled left → collection pauses', async () => {
  const { dir, clock, collector } = await setup({ maxFiles: 3, duplicateThreshold: 0 });
  for (let i = 0; i < 3; i++) {
    collector.offer(offer(await sceneJpeg(i * 10), clock));
    await settle(collector);
    clock.advance(1000);
  }
  const first = await listFrames(dir);
  assert.equal(first.length, 3);
  await setLabels(dir, [first[1]!.id], 'cat');
  collector.offer(offer(await sceneJpeg(45), clock));
  await settle(collector);
  let now = await listFrames(dir);
  assert.equal(now.length, 3);
  assert.ok(!now.some((f) => f.id === first[0]!.id), 'the oldest unlabelled frame went first');
  assert.ok(now.some((f) => f.id === first[1]!.id && f.label === 'cat'), 'the labelled frame stays');
  assert.equal(collector.counters.evicted, 1);
  // Label everything: nothing may be evicted any more, so the next frame is refused and collection pauses.
  await setLabels(dir, now.filter((f) => !f.label).map((f) => f.id), 'dog');
  collector.offer(offer(await sceneJpeg(20), clock));
  await settle(collector);
  now = await listFrames(dir);
  assert.equal(now.length, 3);
  assert.ok(now.every((f) => f.label));
  assert.equal(collector.counters.quotaFull, 1);
  assert.equal(collector.paused, true);
  await rm(dir, { recursive: true, force: true });
});

test('ENOSPC pauses collection (no exception escapes) and it resumes after the pause', async () => {
  let diskFull = true;
  const write = async (path: string, content: Uint8Array | string): Promise<void> => {
    if (diskFull) throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    await writeFile(path, content);
  };
  const { dir, clock, collector } = await setup({ pauseSeconds: 60, duplicateThreshold: 0 }, write);
  collector.offer(offer(await sceneJpeg(0), clock));
  await settle(collector);
  assert.equal(collector.paused, true);
  assert.equal(collector.counters.failed, 1);
  diskFull = false;
  collector.offer(offer(await sceneJpeg(10), clock));
  await settle(collector);
  assert.equal(collector.counters.saved, 0, 'paused: not even tried');
  clock.advance(61_000);
  collector.offer(offer(await sceneJpeg(20), clock));
  await settle(collector);
  assert.equal(collector.counters.saved, 1);
  const names = await readdir(join(dir, 'unlabelled'));
  assert.equal(names.filter((n) => n.includes('.tmp')).length, 0, 'no half-written temp files left');
  await rm(dir, { recursive: true, force: true });
});

test('capture keeps the frame even when it repeats the last one, labelled at once when asked', async () => {
  const { dir, clock, collector } = await setup();
  const img = await sceneJpeg(5);
  collector.offer(offer(img, clock));
  await settle(collector);
  const saved = await collector.capture({ data: img, timestamp: clock.now() + 1, seq: 999 }, undefined, 'cat');
  assert.match(saved.image, /labelled\/cat\//);
  await assert.rejects(collector.capture({ data: img, timestamp: clock.now() + 2, seq: 1000 }, undefined, '../etc'), { code: 'LABEL_BAD_CLASS' });
  await rm(dir, { recursive: true, force: true });
});

test('/metrics families: kept by reason, duplicates skipped, evicted, pauses for a full disk; files and bytes stored', async () => {
  let diskFull = false;
  const write = async (path: string, content: Uint8Array | string): Promise<void> => {
    if (diskFull) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    await writeFile(path, content);
  };
  const { dir, clock, collector } = await setup({ maxFiles: 3, pauseSeconds: 60 }, write);
  const reading = () => renderPrometheus(collectorMetrics({ counters: collector.counters, paused: collector.paused, usage: collector.usage }));
  collector.offer(offer(await sceneJpeg(0), clock)); // low confidence
  await settle(collector);
  collector.offer(offer(await sceneJpeg(0), clock)); // the same scene again: a duplicate
  await settle(collector);
  clock.advance(1000);
  collector.offer(offer(await sceneJpeg(30), clock, { confidence: 0.9, stableChanged: true })); // label changed
  await settle(collector);
  await collector.capture({ data: await sceneJpeg(40), timestamp: clock.now() + 1, seq: 5000 }, undefined); // requested
  collector.offer(offer(await sceneJpeg(10), clock)); // over maxFiles: the oldest unlabelled frame goes
  await settle(collector);
  diskFull = true;
  collector.offer(offer(await sceneJpeg(20), clock)); // room is made (a second eviction), then the write fails
  await settle(collector);
  const text = reading();
  for (const line of [
    'edgecam_collect_kept_total{reason="low-confidence"} 2', 'edgecam_collect_kept_total{reason="label-changed"} 1',
    'edgecam_collect_kept_total{reason="sample"} 0', 'edgecam_collect_kept_total{reason="requested"} 1',
    'edgecam_collect_duplicates_total 1', 'edgecam_collect_evicted_total 2', 'edgecam_collect_failed_total 1',
    'edgecam_collect_paused_total{cause="disk-full"} 1', 'edgecam_collect_paused_total{cause="quota"} 0', 'edgecam_collect_paused 1',
    'edgecam_collect_files 2', '# TYPE edgecam_collect_kept_total counter', '# TYPE edgecam_collect_bytes gauge',
  ]) assert.ok(text.split('\n').includes(line), `${line}\n--- in ---\n${text}`);
  const bytes = Number(/^edgecam_collect_bytes (\d+)$/m.exec(text)![1]);
  const stored = await listFrames(dir);
  assert.equal(stored.length, 2);
  assert.ok(bytes >= stored.reduce((sum, f) => sum + f.bytes, 0), `${bytes} bytes counted`);
  clock.advance(61_000);
  assert.ok(reading().split('\n').includes('edgecam_collect_paused 0'), 'the pause ends');
  await rm(dir, { recursive: true, force: true });
});
