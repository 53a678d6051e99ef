import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { garbageSpawn, startLavfiMjpegServer } from '../fakes/ffmpeg.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { writeColourModel } from '../daemon/fixtures.js';
import { buildDaemon, waitUntil, type Harness, type HarnessOptions } from './harness.js';

/**
 * The camera misbehaves while the daemon runs: a real IP-camera-like ffmpeg MJPEG server is killed, frozen
 * (SIGSTOP: connected, alive, silent), or the capture process speaks garbage. Each must be detected within 5 s,
 * published on <base>/<cam>/camera, and recovered from, with the daemon running throughout.
 */

const DETECT_LIMIT_MS = 5000;
let broker: MosquittoBroker;
let work: string;
let modelDir: string;

before(async () => {
  broker = await startMosquitto();
  work = await mkdtemp(join(tmpdir(), 'edgecam-faults-camera-'));
  modelDir = join(work, 'model');
  await writeColourModel(modelDir, ['red', 'green', 'blue']);
});
after(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

function daemonFor(source: string, base: string, extra: Partial<HarnessOptions> = {}): Harness {
  return buildDaemon({
    config: {
      // stallTimeout 3 s: a silent camera is declared stalled at most 3 s after its last frame.
      camera: { source, fps: 5, width: 160, height: 120, stallTimeout: 3 },
      model: { dir: modelDir, watch: false },
      decision: { window: 1, votes: 1, minDwellMs: 0 },
      mqtt: { url: broker.url, baseTopic: base, cameraId: 'door', discovery: { enabled: false } },
      http: { enabled: false },
      log: { level: 'silent', decisions: false },
    },
    ...extra,
  });
}

/** Statuses published on the camera topic since `since` (ms epoch). */
function cameraStatuses(h: Harness, base: string, since: number): { status: string; at: number }[] {
  return h.published.filter((p) => p.topic === `${base}/door/camera` && p.at >= since).map((p) => ({ status: p.payload, at: p.at }));
}

async function classifiedMore(h: Harness, what: string): Promise<void> {
  const before = h.daemon.snapshot().counters.classified;
  await waitUntil(() => h.daemon.snapshot().counters.classified >= before + 3, 30_000, what);
}

test('camera process killed: detected ≤ 5 s, status published, restarted when the camera is back, daemon classifying again', async () => {
  const server = await startLavfiMjpegServer({ fps: 5, size: '160x120' });
  const h = daemonFor(`ffmpeg:${server.url}`, 'fk');
  try {
    await h.daemon.start();
    await classifiedMore(h, 'frames before the fault');
    const faultAt = Date.now();
    await server.kill();
    await waitUntil(() => cameraStatuses(h, 'fk', faultAt).some((s) => s.status !== 'online'), 15_000, 'camera problem published');
    const detected = cameraStatuses(h, 'fk', faultAt).find((s) => s.status !== 'online')!;
    assert.ok(detected.at - faultAt <= DETECT_LIMIT_MS, `detected after ${detected.at - faultAt} ms as ${detected.status}`);
    assert.notEqual(h.daemon.snapshot().camera.status, 'online');

    const backAt = Date.now();
    await server.restart();
    await waitUntil(() => cameraStatuses(h, 'fk', backAt).some((s) => s.status === 'online'), 30_000, 'camera online again');
    await classifiedMore(h, 'frames after the camera came back');
    assert.ok(h.daemon.snapshot().camera.restarts >= 1, 'the watchdog restarted the capture');
  } finally {
    await h.daemon.stop();
    await server.stop();
  }
});

test('camera stalled (process alive, connection open, no frames): detected ≤ 5 s as stalled, recovered after it resumes', async () => {
  const server = await startLavfiMjpegServer({ fps: 5, size: '160x120' });
  const h = daemonFor(`ffmpeg:${server.url}`, 'fs');
  try {
    await h.daemon.start();
    await classifiedMore(h, 'frames before the stall');
    const faultAt = Date.now();
    server.pause();
    await waitUntil(() => cameraStatuses(h, 'fs', faultAt).some((s) => s.status === 'stalled'), 15_000, 'stalled published');
    const stalled = cameraStatuses(h, 'fs', faultAt).find((s) => s.status === 'stalled')!;
    assert.ok(stalled.at - faultAt <= DETECT_LIMIT_MS, `stall detected after ${stalled.at - faultAt} ms`);
    // The frozen server lost its one client (the watchdog dropped it): a camera that wakes up is reachable again.
    server.resume();
    await server.restart();
    const backAt = Date.now();
    await waitUntil(() => cameraStatuses(h, 'fs', backAt).some((s) => s.status === 'online') || h.daemon.snapshot().camera.status === 'online', 30_000, 'online again');
    await classifiedMore(h, 'frames after the stall');
  } finally {
    await h.daemon.stop();
    await server.stop();
  }
});

test('capture process sending garbage: no frames, stalled within 5 s, restarted again and again, daemon alive and answering', async () => {
  const h = daemonFor('ffmpeg:/dev/video0', 'fg', { captureDeps: { spawn: garbageSpawn() } });
  const startAt = Date.now();
  try {
    await h.daemon.start();
    await waitUntil(() => cameraStatuses(h, 'fg', startAt).some((s) => s.status === 'stalled'), 15_000, 'stalled published');
    const stalled = cameraStatuses(h, 'fg', startAt).find((s) => s.status === 'stalled')!;
    assert.ok(stalled.at - startAt <= DETECT_LIMIT_MS, `garbage detected as a stall after ${stalled.at - startAt} ms`);
    await waitUntil(() => h.daemon.snapshot().camera.restarts >= 2, 30_000, 'restarted more than once');
    const snap = h.daemon.snapshot();
    assert.equal(snap.counters.classified, 0, 'garbage never became a frame');
    assert.equal(snap.mqtt?.connected, true, 'the daemon is still connected and running');
    assert.ok(snap.model, 'the model is still loaded');
  } finally {
    await h.daemon.stop();
  }
});
