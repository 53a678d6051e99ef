import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startMosquitto } from '../fakes/mosquitto.js';
import { solidJpeg, writeColourModel, writeImages } from '../daemon/fixtures.js';
import { buildDaemon, waitUntil } from './harness.js';

/**
 * The broker dies (SIGKILL, like a power cut of the box running it) while the daemon is producing events, and comes
 * back 8 s later: longer than the daemon's first reconnect backoff steps, so a backoff that keeps growing would show.
 */

const OUTAGE_MS = 8000;

test('broker killed mid-stream: every QoS-1 event from the outage reaches a clean:false subscriber; reconnect ≤ 5 s; availability and state republished', async () => {
  const work = await mkdtemp(join(tmpdir(), 'edgecam-faults-broker-'));
  const broker = await startMosquitto({ persistence: true });
  const images = join(work, 'camera');
  // Alternating colours: with no smoothing every frame changes the stable label, so every frame is an event.
  await writeImages(images, { '1.jpg': await solidJpeg(240, 10, 10), '2.jpg': await solidJpeg(10, 10, 240) });
  await writeColourModel(join(work, 'model'), ['red', 'green', 'blue']);
  const { daemon, published } = buildDaemon({
    config: {
      camera: { source: `folder:${images}`, fps: 10 },
      model: { dir: join(work, 'model'), watch: false },
      decision: { window: 1, votes: 1, minDwellMs: 0, enter: 0.6, exit: 0.5 },
      mqtt: { url: broker.url, baseTopic: 'fo', cameraId: 'door', discovery: { enabled: false } },
      http: { enabled: false },
      log: { level: 'silent', decisions: false },
    },
  });
  const received: { topic: string; text: string; at: number }[] = [];
  const subscriber = await mqtt.connectAsync(broker.url, { clientId: 'faults-persistent-subscriber', clean: false, reconnectPeriod: 200 });
  subscriber.on('message', (topic, payload) => received.push({ topic, text: payload.toString(), at: Date.now() }));
  await subscriber.subscribeAsync(['fo/door/event', 'fo/status', 'fo/door/state'], { qos: 1 });
  try {
    await daemon.start();
    await waitUntil(() => received.filter((m) => m.topic === 'fo/door/event').length >= 5, 15_000, 'events before the outage');

    await broker.kill();
    const downAt = Date.now();
    await waitUntil(() => daemon.snapshot().mqtt?.connected === false, 5000, 'the daemon notices the broker is gone');
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const outageEvents = published.filter((p) => p.topic === 'fo/door/event' && p.at > downAt).map((p) => p.payload);
    assert.ok(outageEvents.length >= 20, `the daemon kept producing events during the outage (${outageEvents.length})`);

    await broker.restart();
    const upAt = Date.now();
    await waitUntil(() => daemon.snapshot().mqtt?.connected === true, 30_000, 'the daemon reconnects');
    const reconnectMs = Date.now() - upAt;
    assert.ok(reconnectMs <= 5000, `reconnected ${reconnectMs} ms after the broker came back (limit 5000 ms)`);

    // Every event produced while the broker was down arrives (QoS 1 may duplicate: compare distinct payloads).
    const eventTexts = () => new Set(received.filter((m) => m.topic === 'fo/door/event').map((m) => m.text));
    await waitUntil(() => outageEvents.every((e) => eventTexts().has(e)), 20_000, 'all outage events delivered').catch(() => undefined);
    const missing = outageEvents.filter((e) => !eventTexts().has(e));
    assert.deepEqual(missing, [], `${missing.length} of ${outageEvents.length} outage events lost`);

    // Availability and the retained state are published again after the reconnect, not only remembered by the broker.
    await waitUntil(() => received.some((m) => m.topic === 'fo/status' && m.text === 'online' && m.at >= upAt), 10_000, 'online republished');
    await waitUntil(() => received.some((m) => m.topic === 'fo/door/state' && m.at >= upAt), 10_000, 'state republished');
    const late = await mqtt.connectAsync(broker.url, { clientId: 'faults-late', reconnectPeriod: 0 });
    const retained: Record<string, string> = {};
    late.on('message', (topic, payload, packet) => { if (packet.retain) retained[topic] = payload.toString(); });
    await late.subscribeAsync(['fo/status', 'fo/door/state'], { qos: 1 });
    await waitUntil(() => Object.keys(retained).length === 2, 5000, 'retained status and state');
    assert.equal(retained['fo/status'], 'online');
    assert.match(retained['fo/door/state']!, /^(red|blue)$/);
    await late.endAsync(true);
    assert.ok((daemon.snapshot().counters.classified ?? 0) > 0);
  } finally {
    await daemon.stop();
    await subscriber.endAsync(true);
    await broker.stop();
    await rm(work, { recursive: true, force: true });
  }
});
