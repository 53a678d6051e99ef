import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from '../fakes/mosquitto.js';
import { writeColourModel } from '../daemon/fixtures.js';
import { BAD_KINDS, badImageFactory, type BadKind } from './bad-images.js';
import { HandFedCamera, buildDaemon, capturedLogger, waitUntil } from './harness.js';

/**
 * 1,000 broken frames through the running daemon (sharp decoding, ONNX Runtime, MQTT all real), with a good frame
 * every 50: nothing crashes or rejects unhandled, every broken frame is counted, the log is rate-limited, and the
 * good frames keep being classified. Frames are handed in one at a time so that none is dropped by backpressure and
 * every one must be accounted for as classified or failed.
 */

const PER_KIND = 200;

test('1,000 corrupt, truncated, zero-byte, huge-dimension and non-image frames: each counted, none crashes, good frames still classified', async () => {
  const work = await mkdtemp(join(tmpdir(), 'edgecam-faults-frames-'));
  const broker = await startMosquitto();
  await writeColourModel(join(work, 'model'), ['red', 'green', 'blue']);
  const camera = new HandFedCamera();
  const { logger, text } = capturedLogger('info');
  const { daemon } = buildDaemon({
    camera: () => camera,
    logger,
    config: {
      camera: { source: 'folder:unused' },
      model: { dir: join(work, 'model'), watch: false },
      mqtt: { url: broker.url, baseTopic: 'bf', cameraId: 'door', discovery: { enabled: false } },
      http: { enabled: false },
      log: { level: 'info', decisions: false },
    },
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  const factory = await badImageFactory();
  const outcome: Record<BadKind, { classified: number; failed: number }> = Object.fromEntries(BAD_KINDS.map((k) => [k, { classified: 0, failed: 0 }])) as never;
  let goodFed = 0;
  let goodClassified = 0;
  try {
    await daemon.start();
    const processed = () => { const c = daemon.snapshot().counters; return c.classified + c.failed; };
    const feed = async (data: Buffer): Promise<'classified' | 'failed'> => {
      const before = daemon.snapshot().counters;
      camera.feed(data);
      await waitUntil(() => processed() > before.classified + before.failed, 10_000, 'frame processed');
      return daemon.snapshot().counters.classified > before.classified ? 'classified' : 'failed';
    };
    for (let i = 0; i < PER_KIND * BAD_KINDS.length; i++) {
      const kind = BAD_KINDS[i % BAD_KINDS.length]!;
      outcome[kind][await feed(factory.make(kind, i))] += 1;
      if (i % 50 === 49) {
        goodFed += 1;
        if ((await feed(factory.good)) === 'classified') goodClassified += 1;
      }
    }
    const counters = daemon.snapshot().counters;
    assert.equal(counters.captured, PER_KIND * BAD_KINDS.length + goodFed, 'every frame reached the pipeline');
    assert.equal(counters.dropped, 0);
    assert.equal(counters.classified + counters.failed, counters.captured, 'every frame is counted as classified or failed');
    // Frames that cannot be an image at all must fail; a damaged JPEG may still decode (JPEG is forgiving), and if so it is classified.
    for (const kind of ['zero-byte', 'huge-dimension', 'non-image'] as const) {
      assert.deepEqual(outcome[kind], { classified: 0, failed: PER_KIND }, `${kind}: all refused`);
    }
    for (const kind of ['corrupt', 'truncated'] as const) assert.equal(outcome[kind].classified + outcome[kind].failed, PER_KIND);
    assert.equal(goodClassified, goodFed, 'good frames between the broken ones were classified');
    assert.equal(daemon.snapshot().mqtt?.connected, true);
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
    // Per-frame failures are rate-limited in the log, not one line per frame.
    const skippedLines = text().split('\n').filter((l) => l.includes('frame skipped')).length;
    assert.ok(skippedLines >= 1 && skippedLines <= 20, `${skippedLines} log lines for ${counters.failed} failed frames`);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await daemon.stop();
    await broker.stop();
    await rm(work, { recursive: true, force: true });
  }
});
