import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { createDaemon } from '../../src/main.js';
import type { Daemon } from '../../src/daemon.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { Recorder, solidJpeg, waitUntil, writeColourModel, writeImages } from './fixtures.js';

/**
 * The daemon end to end, in-process, with every real part: a real mosquitto on a free port, folder replay of
 * synthesized JPEGs through the capture watchdog, sharp preprocessing, an ONNX model run by onnxruntime-node.
 */

let broker: MosquittoBroker;
let work: string;
before(async () => {
  broker = await startMosquitto();
  work = await mkdtemp(join(tmpdir(), 'edgecam-daemon-'));
});
after(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

test('frames in → retained state, events, classification, snapshot, discovery, stats, requests, hot reload, offline', async () => {
  const images = join(work, 'camera');
  const modelDir = join(work, 'models', 'active');
  await writeImages(images, { 'a.jpg': await solidJpeg(240, 10, 10), 'b.jpg': await solidJpeg(230, 20, 0) });
  await writeColourModel(modelDir, ['red', 'green', 'blue']);
  const config = configSchema.parse({
    camera: { source: `folder:${images}`, fps: 10 },
    model: { dir: modelDir, providers: ['cpu'] },
    decision: { window: 1, votes: 1, minDwellMs: 0, enter: 0.6, exit: 0.5, minConfidence: 0.5 },
    mqtt: { url: broker.url, baseTopic: 'e2e', cameraId: 'door', statsInterval: 0.3 },
    http: { port: 0 },
    collect: { dir: join(work, 'collect') },
    log: { level: 'silent', decisions: false },
  });
  const rec = await Recorder.connect(broker.url, ['e2e/#', 'homeassistant/#']);
  const daemon: Daemon = await createDaemon(config, silentLogger());
  try {
    await daemon.start();
    await rec.next(rec.on('e2e/status', 'online'));
    await rec.next(rec.on('e2e/door/state', 'red'));
    const event = JSON.parse((await rec.next(rec.on('e2e/door/event'))).payload.toString());
    assert.deepEqual([event.from, event.to], ['unknown', 'red']);
    assert.ok(event.confidence > 0.9 && typeof event.time === 'string');
    const cls = JSON.parse((await rec.next(rec.on('e2e/door/classification'))).payload.toString());
    assert.equal(cls.label, 'red');
    assert.deepEqual(Object.keys(cls.scores), ['red', 'green', 'blue']);
    assert.deepEqual(cls.model, { name: 'colour', version: '1' });
    assert.equal(cls.provider, 'cpu');
    const snapshot = await rec.next(rec.on('e2e/door/snapshot'));
    assert.deepEqual([...snapshot.payload.subarray(0, 2)], [0xff, 0xd8], 'snapshot is the JPEG');
    await rec.next(rec.on('e2e/door/camera', 'online'));
    const stats = JSON.parse((await rec.next(rec.on('e2e/stats'))).payload.toString());
    for (const key of ['fps', 'latencyMs', 'drops', 'errors', 'memoryMb', 'uptimeS']) assert.ok(key in stats, `stats has ${key}`);

    // Home Assistant discovery: a sensor and one binary_sensor per class, tied to e2e/status.
    const sensor = JSON.parse((await rec.next((m) => /^homeassistant\/sensor\/.*\/config$/.test(m.topic) && m.payload.length > 0)).payload.toString());
    assert.equal(sensor.state_topic, 'e2e/door/state');
    assert.equal(JSON.stringify(sensor).includes('e2e/status'), true);
    for (const label of ['red', 'green', 'blue']) {
      await rec.next((m) => m.topic.startsWith('homeassistant/binary_sensor/') && m.topic.includes(label) && m.payload.length > 0);
    }

    // Requests: status, set-threshold (good and bad), capture, malformed JSON, unknown command.
    const status = await rec.request('e2e', 'status', {}, 1);
    assert.equal(status.status, 'ok');
    assert.equal(status.transaction, 1);
    assert.equal((status.data as { healthy: boolean }).healthy, true);
    const set = await rec.request('e2e', 'set-threshold', { label: 'red', threshold: 0.8 }, 2);
    assert.equal(set.status, 'ok');
    assert.equal((set.data as { decision: { thresholds: Record<string, number> } }).decision.thresholds.red, 0.8);
    const bad = await rec.request('e2e', 'set-threshold', { label: 'red', threshold: 'high' }, 3);
    assert.equal(bad.status, 'error');
    const captured = await rec.request('e2e', 'capture', { label: 'red' }, 4);
    assert.equal(captured.status, 'ok', JSON.stringify(captured));
    const saved = captured.data as { image: string; sidecar: string };
    assert.deepEqual([...(await readFile(saved.image)).subarray(0, 2)], [0xff, 0xd8]);
    const sidecar = JSON.parse(await readFile(saved.sidecar, 'utf8'));
    assert.equal(sidecar.label, 'red');
    assert.equal(sidecar.prediction.label, 'red');
    assert.deepEqual(await readdir(join(work, 'collect', 'red')), [saved.image.split('/').pop(), saved.sidecar.split('/').pop()].sort());
    const malformed = await rec.request('e2e', 'status', '{not json', 5);
    assert.equal(malformed.status, 'error');
    const unknown = await rec.request('e2e', 'explode', {}, 6);
    assert.equal(unknown.status, 'error');

    // HTTP health and metrics.
    const health = await fetch(`http://127.0.0.1:${daemon.httpPort}/healthz`);
    assert.equal(health.status, 200);
    const metricsText = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
    assert.match(metricsText, /edgecam_frames_total\{outcome="classified"\} [1-9]/);
    assert.match(metricsText, /edgecam_model_loaded\{name="colour",version="1",provider="cpu"\} 1/);

    // A broken model folder is refused and the old model keeps serving.
    const refused = await rec.request('e2e', 'reload-model', { dir: join(work, 'nowhere') }, 7);
    assert.equal(refused.status, 'error');
    assert.match(String(refused.error), /previous one keeps serving/);

    // Hot reload by a change of the model folder: same image, new labels → the stable label changes.
    const mark = rec.messages.length;
    await writeColourModel(modelDir, ['cat', 'dog', 'none'], '2');
    await rec.next(rec.on('e2e/door/state', 'cat'), 15_000, mark);
    const swapEvent = JSON.parse((await rec.next(rec.on('e2e/door/event'), 5000, mark)).payload.toString());
    assert.deepEqual([swapEvent.from, swapEvent.to], ['red', 'cat']);
    await rec.next((m) => m.topic.startsWith('homeassistant/binary_sensor/') && m.topic.includes('cat') && m.payload.length > 0, 5000, mark);
    await rec.next((m) => m.topic.startsWith('homeassistant/binary_sensor/') && m.topic.includes('red') && m.payload.length === 0, 5000, mark);
    const after = JSON.parse((await rec.next((m) => m.topic === 'e2e/door/classification' && m.payload.includes('"version":"2"'), 5000, mark)).payload.toString());
    assert.equal(after.label, 'cat');
    assert.ok(daemon.snapshot().counters.failed === 0, 'no frame failed across the swap');

    // reload-model request on the same folder works and answers with the model.
    const reloaded = await rec.request('e2e', 'reload-model', {}, 8);
    assert.equal(reloaded.status, 'ok');
    assert.equal((reloaded.data as { model: { version: string } }).model.version, '2');
  } finally {
    await daemon.stop();
    await daemon.stop();
  }
  await rec.next(rec.on('e2e/status', 'offline'));
  await rec.close();
  // A new subscriber sees the retained state and availability.
  const late = await Recorder.connect(broker.url, ['e2e/status', 'e2e/door/state']);
  const state = await late.next(late.on('e2e/door/state'));
  assert.equal(state.retain, true);
  assert.equal(state.payload.toString(), 'cat');
  assert.equal((await late.next(late.on('e2e/status'))).payload.toString(), 'offline');
  await late.close();
});

test('broker restarted mid-stream: availability and retained state come back; camera gone: status and /healthz say so', async () => {
  const images = join(work, 'camera2');
  const modelDir = join(work, 'model2');
  await writeImages(images, { 'a.jpg': await solidJpeg(10, 10, 240) });
  await writeColourModel(modelDir, ['red', 'green', 'blue']);
  const config = configSchema.parse({
    camera: { source: `folder:${images}`, fps: 10, stallTimeout: 0.5 },
    model: { dir: modelDir, providers: ['cpu'], watch: false },
    decision: { window: 1, votes: 1, minDwellMs: 0 },
    mqtt: { url: broker.url, baseTopic: 'e2e2', cameraId: 'door' },
    http: { port: 0 },
    log: { level: 'silent', decisions: false },
  });
  const daemon = await createDaemon(config, silentLogger());
  const rec = await Recorder.connect(broker.url, ['e2e2/#']);
  try {
    await daemon.start();
    await rec.next(rec.on('e2e2/door/state', 'blue'));
    await broker.restart(); // no persistence: the restarted broker has forgotten every retained message
    const mark = rec.messages.length;
    await rec.next(rec.on('e2e2/status', 'online'), 20_000, mark);
    await rec.next(rec.on('e2e2/door/state', 'blue'), 20_000, mark);

    // The camera's images disappear: the watchdog reports it and /healthz turns 503, the daemon keeps running.
    await rm(images, { recursive: true, force: true });
    await rec.next((m) => m.topic === 'e2e2/door/camera' && m.payload.toString() !== 'online', 15_000, mark);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${daemon.httpPort}/healthz`)).status === 503, 15_000, '/healthz 503');
    const body = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/healthz`)).json() as { reasons: string[] };
    assert.match(body.reasons.join(' '), /camera folder:.* is (stalled|offline|restarting|starting)/);
    // …and recovers when they come back.
    await writeImages(images, { 'a.jpg': await solidJpeg(10, 10, 240) });
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${daemon.httpPort}/healthz`)).status === 200, 30_000, '/healthz 200 again');
  } finally {
    await daemon.stop();
    await rec.close();
  }
});
