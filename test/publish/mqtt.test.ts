import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { makeMqtt, recorder, nextEvent } from './helpers.js';

let broker: MosquittoBroker;
before(async () => { broker = await startMosquitto(); });
after(async () => { await broker.stop(); });

test('start publishes retained online; the last will is offline; stop publishes offline and is safe twice', async () => {
  const mqtt = makeMqtt(broker.url, { baseTopic: 'avail1' });
  await mqtt.start();
  const late = await recorder(broker.url, ['avail1/status']);
  const online = await late.waitFor((m) => m.topic === 'avail1/status', 'retained online');
  assert.equal(online.text, 'online');
  assert.equal(online.retain, true);
  await mqtt.stop();
  await mqtt.stop();
  await late.waitFor((m) => m.text === 'offline', 'offline on stop');
  assert.equal(await mqtt.publishState('cat'), false, 'publishing after stop() reports failure instead of throwing');
  await late.end();
  const after = await recorder(broker.url, ['avail1/status']);
  assert.equal((await after.waitFor(() => true, 'retained status')).text, 'offline');
  await after.end();
});

test('state is retained: a subscriber arriving later receives the last stable label', async () => {
  const mqtt = makeMqtt(broker.url, { baseTopic: 'ret' });
  await mqtt.start();
  assert.equal(await mqtt.publishState('dog'), true);
  assert.equal(await mqtt.publishState('cat'), true);
  const late = await recorder(broker.url, ['ret/door/state']);
  const state = await late.waitFor(() => true, 'retained state');
  assert.deepEqual([state.text, state.retain, state.topic], ['cat', true, 'ret/door/state']);
  await late.end();
  await mqtt.stop();
});

test('classification, event, snapshot, stats and camera status payloads', async () => {
  const mqtt = makeMqtt(broker.url, { baseTopic: 'pay' });
  await mqtt.start();
  const sub = await recorder(broker.url, ['pay/#']);
  const frameTime = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
  await mqtt.publishClassification({
    label: 'cat', confidence: 0.91, scores: { cat: 0.91, dog: 0.09 }, model: { name: 'pets', version: '3' },
    provider: 'cpu', latencyMs: 2.5, frameTime, stableLabel: 'cat', stableConfidence: 0.88,
  });
  await mqtt.publishEvent({ from: 'none', to: 'cat', confidence: 0.88, time: frameTime });
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
  await mqtt.publishSnapshot(jpeg);
  await mqtt.publishStats({ fps: 9.8, dropped: 3 });
  await mqtt.publishCameraStatus('stalled');

  const c = JSON.parse((await sub.waitFor((m) => m.topic === 'pay/door/classification', 'classification')).text);
  assert.equal(c.label, 'cat');
  assert.equal(c.confidence, 0.91);
  assert.deepEqual(c.scores, { cat: 0.91, dog: 0.09 });
  assert.deepEqual(c.model, { name: 'pets', version: '3' });
  assert.equal(c.provider, 'cpu');
  assert.equal(c.latencyMs, 2.5);
  assert.equal(c.frameTime, '2025-01-02T03:04:05.678Z');
  assert.equal(c.stableLabel, 'cat');

  const e = await sub.waitFor((m) => m.topic === 'pay/door/event', 'event');
  assert.deepEqual(JSON.parse(e.text), { from: 'none', to: 'cat', confidence: 0.88, time: '2025-01-02T03:04:05.678Z' });
  assert.equal(e.retain, false);

  const s = await sub.waitFor((m) => m.topic === 'pay/door/snapshot', 'snapshot');
  assert.ok(s.payload.equals(jpeg), 'snapshot bytes arrive unchanged');

  assert.deepEqual(JSON.parse((await sub.waitFor((m) => m.topic === 'pay/stats', 'stats')).text), { fps: 9.8, dropped: 3 });
  assert.equal((await sub.waitFor((m) => m.topic === 'pay/door/camera', 'camera status')).text, 'stalled');
  await sub.end();
  await mqtt.stop();
});

test('abrupt client death: the broker publishes the last will (offline); the client reconnects and says online again', async () => {
  // A slow first reconnect leaves time to look at the retained will before the client comes back.
  const mqtt = makeMqtt(broker.url, { baseTopic: 'lwt', keepalive: 5, reconnect: { initialMs: 2000 } });
  await mqtt.start();
  await mqtt.publishState('cat');
  const sub = await recorder(broker.url, ['lwt/status', 'lwt/door/state']);
  await sub.waitFor((m) => m.topic === 'lwt/status' && m.text === 'online', 'initial online');
  const reconnected = nextEvent(mqtt, 'reconnected');
  // Kill the TCP connection without a DISCONNECT packet, as a crash or a pulled cable would.
  const stream = (mqtt as unknown as { client: { stream: Socket } }).client.stream;
  stream.destroy();
  const offline = await sub.waitFor((m) => m.topic === 'lwt/status' && m.text === 'offline', 'last will offline');
  const late = await recorder(broker.url, ['lwt/status']);
  const retained = await late.waitFor(() => true, 'retained status after the will');
  assert.deepEqual([retained.text, retained.retain], ['offline', true]);
  await late.end();
  await reconnected;
  await sub.waitFor((m) => m.topic === 'lwt/status' && m.text === 'online' && sub.messages.indexOf(m) > sub.messages.indexOf(offline), 'online again after reconnect');
  assert.equal(mqtt.stats().reconnects, 1);
  await sub.end();
  await mqtt.stop();
});

test('subscribe routes messages to handlers by filter, and handler errors do not escape', async () => {
  const mqtt = makeMqtt(broker.url, { baseTopic: 'sub' });
  await mqtt.start();
  const seen: string[] = [];
  await mqtt.subscribe('cmd/+', (topic) => { seen.push(topic); throw new Error('handler bug'); });
  await mqtt.subscribe('other/#', async (topic) => { seen.push(topic); });
  const pub = await recorder(broker.url, []);
  await pub.client.publishAsync('sub/cmd/a', 'x', { qos: 1 });
  await pub.client.publishAsync('sub/other/b/c', 'x', { qos: 1 });
  await pub.client.publishAsync('sub/unrelated', 'x', { qos: 1 });
  await pub.client.publishAsync('sub/cmd/z', 'x', { qos: 1 });
  // The last publish routes to cmd/+, so once it is seen, the earlier ones have been routed too.
  for (let i = 0; i < 100 && !seen.includes('sub/cmd/z'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(seen, ['sub/cmd/a', 'sub/other/b/c', 'sub/cmd/z']);
  await pub.end();
  await mqtt.stop();
});
