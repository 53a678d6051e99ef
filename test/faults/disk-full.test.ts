import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { Collector } from '../../src/collect/collector.js';
import type { WriteFn } from '../../src/collect/frames.js';
import { createClassifier } from '../../src/inference/engine.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { FramePipeline } from '../../src/pipeline/runner.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { systemClock, type Frame } from '../../src/types.js';
import { startMosquitto } from '../fakes/mosquitto.js';
import { writeColourModel, writeImages } from '../daemon/fixtures.js';
import { buildDaemon, capturedLogger, waitUntil } from './harness.js';
import { rng } from './bad-images.js';

/**
 * The SD card fills up while frames are being collected. A real 512 KiB tmpfs when this process may mount one
 * (root in CI); otherwise a writer that fails with ENOSPC once as many bytes as the tmpfs holds were written.
 * Collection must pause (one warning, no retry per frame), classification must go on, no half-written file is left.
 */

const exec = promisify(execFile);
const DISK_BYTES = 512 * 1024;

async function noisyJpeg(seed: number): Promise<Buffer> {
  const r = rng(seed);
  const raw = Buffer.alloc(320 * 240 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r() * 256);
  return sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Mounts a tmpfs of DISK_BYTES at `dir`; false when this process may not mount (not root, no CAP_SYS_ADMIN). */
async function mountSmallDisk(dir: string): Promise<boolean> {
  try {
    await exec('mount', ['-t', 'tmpfs', '-o', `size=${DISK_BYTES}`, 'tmpfs', dir]);
    return true;
  } catch {
    return false;
  }
}

/** Stand-in for a full disk when mounting is not allowed: ENOSPC once the written bytes would exceed DISK_BYTES. */
function fillingWriter(): WriteFn {
  let used = 0;
  return async (path, content) => {
    const size = typeof content === 'string' ? Buffer.byteLength(content) : content.length;
    if (used + size > DISK_BYTES) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' });
    used += size;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, content);
  };
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).filter((f) => /\.tmp/.test(f));
}

test('disk full while collecting: collection pauses with one warning, classification continues, no half-written files', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'edgecam-faults-disk-'));
  const disk = join(work, 'disk');
  await mkdir(disk);
  const realDisk = await mountSmallDisk(disk);
  try {
    t.diagnostic(realDisk ? `real ${DISK_BYTES / 1024} KiB tmpfs at ${disk}` : 'mount not permitted: ENOSPC from an injected writer');
    const { logger, text } = capturedLogger('info');
    const modelDir = join(work, 'model');
    await writeColourModel(modelDir, ['red', 'green', 'blue']);
    const classifier = await createClassifier({ logger }, { folder: await loadModelFolder(modelDir), providers: ['cpu'] });
    const collector = new Collector({ logger, clock: systemClock, ...(realDisk ? {} : { write: fillingWriter() }) }, {
      dir: join(disk, 'collect'), maxFiles: 100_000, maxMegabytes: 1024, lowConfidence: 1.01, onChange: true, sampleIntervalSeconds: 0, duplicateThreshold: 0,
    });
    const classifiedAt: number[] = [];
    // The daemon's loop: every classified frame is offered to the collector, which decides and saves in the background.
    const pipeline = new FramePipeline({ logger, clock: systemClock, preprocess: preprocessImage }, {
      classifier,
      onResult: (r) => {
        classifiedAt.push(Date.now());
        const top = r.classification.scores.probabilities.indexOf(Math.max(...r.classification.scores.probabilities));
        collector.offer({ frame: r.frame, label: r.classification.scores.labels[top]!, confidence: r.classification.scores.probabilities[top]!, stableChanged: false, scores: {}, model: { name: 'colour', version: '1' } });
      },
    });
    try {
      await collector.start();
      await pipeline.start();
      const images = await Promise.all(Array.from({ length: 8 }, (_, i) => noisyJpeg(i + 1)));
      let pausedAt: number | undefined;
      for (let seq = 0; seq < 400 && (pausedAt === undefined || Date.now() - pausedAt < 1500); seq++) {
        const frame: Frame = { data: images[seq % images.length]!, timestamp: Date.now(), seq, origin: 'test' };
        pipeline.push(frame);
        await pipeline.idle();
        await new Promise((r) => setTimeout(r, 15)); // let the background save run
        if (pausedAt === undefined && collector.paused) pausedAt = Date.now();
      }
      assert.ok(pausedAt !== undefined, `collection paused when the disk filled (saved ${collector.counters.saved}, failed ${collector.counters.failed})`);
      assert.ok(collector.counters.saved >= 2, 'frames were kept until the disk was full');
      assert.equal(collector.counters.failed, 1, 'one failed write, then no retry per frame while paused');
      assert.ok(classifiedAt.filter((at) => at > pausedAt!).length >= 20, 'frames kept being classified after the disk filled');
      assert.equal(pipeline.counters.failed, 0, 'no frame failed because of the disk');
      assert.deepEqual(await leftovers(disk), [], 'no half-written temporary file left behind');
      const warnings = text().split('\n').filter((l) => l.includes('disk is full'));
      assert.equal(warnings.length, 1, 'one clear warning');
      assert.match(warnings[0]!, /classification goes on/);
    } finally {
      await pipeline.stop();
      await collector.stop();
      await classifier.dispose();
    }

    if (realDisk) {
      // The daemon itself, collecting automatically (the learning loop), then with collection off (capture-writer).
      await rm(join(disk, 'collect'), { recursive: true, force: true });
      await writeImages(join(work, 'camera'), Object.fromEntries(await Promise.all(Array.from({ length: 8 }, async (_, i) => [`${i}.jpg`, await noisyJpeg(50 + i)] as const))));
      await daemonOnFullDisk({ work, disk, modelDir, collecting: true });
      await daemonOnFullDisk({ work, disk, modelDir, collecting: false });
    }
  } finally {
    if (realDisk) await exec('umount', [disk]).catch(() => exec('umount', ['-l', disk]));
    await rm(work, { recursive: true, force: true });
  }
});

/** The running daemon on the full tmpfs: collection pauses with one warning, classification and requests go on. */
async function daemonOnFullDisk(o: { work: string; disk: string; modelDir: string; collecting: boolean }): Promise<void> {
  const broker = await startMosquitto();
  const { logger, text } = capturedLogger('info');
  const { daemon } = buildDaemon({
    logger,
    config: {
      camera: { source: `folder:${join(o.work, 'camera')}`, fps: 10 }, model: { dir: o.modelDir, watch: false },
      mqtt: { url: broker.url, baseTopic: 'df', cameraId: 'door', discovery: { enabled: false } }, http: { enabled: false },
      // lowConfidence 1 and no duplicate check: every frame is worth keeping, so the disk fills within seconds.
      collect: { dir: join(o.disk, 'collect'), enabled: o.collecting, lowConfidence: 1, duplicateThreshold: 0, sampleInterval: 0 },
      log: { level: 'info', decisions: false },
    },
  });
  const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  const responses: Record<string, unknown>[] = [];
  client.on('message', (_topic, payload) => responses.push(JSON.parse(payload.toString()) as Record<string, unknown>));
  await client.subscribeAsync('df/response/capture', { qos: 1 });
  try {
    await daemon.start();
    await waitUntil(() => daemon.snapshot().counters.classified > 0, 15_000, 'classifying');
    if (o.collecting) {
      await waitUntil(() => text().includes('disk is full'), 30_000, 'collection paused on the full disk');
      const atPause = daemon.snapshot().counters.classified;
      await waitUntil(() => daemon.snapshot().counters.classified >= atPause + 20, 15_000, 'classification continues while collection is paused');
      assert.equal(text().split('\n').filter((l) => l.includes('disk is full')).length, 1, 'one warning, no retry per frame');
    }
    await client.publishAsync('df/request/capture', JSON.stringify({ label: 'cat', transaction: 1 }), { qos: 1 });
    await waitUntil(() => responses.length > 0, 10_000, 'capture answered');
    const r = responses[0]!;
    assert.equal(r.status, 'error', JSON.stringify(r));
    assert.match(String(r.error), /full|space/i, `the error says the disk is full: ${JSON.stringify(r)}`);
    assert.notEqual(r.code, 'REQUEST_FAILED', `an explained error code (collecting: ${o.collecting}), got ${JSON.stringify(r)}`);
    const classified = daemon.snapshot().counters.classified;
    await waitUntil(() => daemon.snapshot().counters.classified > classified + 2, 10_000, 'classification continues');
    assert.deepEqual(await leftovers(o.disk), [], 'no partial file left');
    assert.equal(daemon.snapshot().counters.failed, 0, 'no frame failed because of the disk');
  } finally {
    await daemon.stop();
    await client.endAsync(true);
    await broker.stop();
  }
}
