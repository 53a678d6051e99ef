import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import { startMosquitto } from '../fakes/mosquitto.js';
import { makeMqtt, recorder, sleep, nextEvent } from './helpers.js';

test('broker restarted mid-stream (no persistence): reconnect, then online and the retained state are republished', async () => {
  const broker = await startMosquitto();
  const mqtt = makeMqtt(broker.url, { baseTopic: 'rc' });
  try {
    await mqtt.start();
    await mqtt.publishState('cat');
    await mqtt.publishCameraStatus('online');
    const reconnected = nextEvent(mqtt, 'reconnected');
    // A broker without persistence forgets every retained message: only our republish can bring them back.
    await broker.restart();
    await reconnected;
    const late = await recorder(broker.url, ['rc/status', 'rc/door/state', 'rc/door/camera']);
    await late.waitForCount((m) => m.retain, 3, 'three retained messages');
    assert.equal(late.on('rc/status')[0]?.text, 'online');
    assert.equal(late.on('rc/door/state')[0]?.text, 'cat');
    assert.equal(late.on('rc/door/camera')[0]?.text, 'online');
    await late.end();
  } finally {
    await mqtt.stop();
    await broker.stop();
  }
});

test('broker stopped mid-stream and restarted (with persistence): a clean:false subscriber gets every QoS 1 event produced during the outage', async () => {
  const broker = await startMosquitto({ persistence: true });
  const mqtt = makeMqtt(broker.url, { baseTopic: 'pers' });
  const session = { clientId: 'edgecam-test-persistent', clean: false };
  // No auto-reconnect: the subscriber stays away until every event is on the broker, so only its persisted
  // session (not a fresh re-subscription) can deliver what was produced during the outage.
  const before = await recorder(broker.url, ['pers/door/event'], { ...session, reconnectPeriod: 0 });
  let after: Awaited<ReturnType<typeof recorder>> | undefined;
  try {
    await mqtt.start();
    const total = 60;
    const sent: Promise<boolean>[] = [];
    const emit = (i: number) => sent.push(mqtt.publishEvent({ from: 'none', to: `cat${i}`, confidence: 0.9, time: i }));
    for (let i = 0; i < 20; i++) emit(i);
    await before.waitForCount((m) => m.topic === 'pers/door/event', 20, 'events before the outage');
    // SIGTERM: mosquitto saves its sessions. (With SIGKILL, mosquitto 2.0.11 restored the subscriber's session but
    // dropped ~15 of the first messages queued for it after restart in about 1 run in 4: a broker limit, not ours.)
    await broker.shutdown();
    // Produced while the broker is down: mqtt.js keeps QoS 1 publishes and sends them after reconnecting.
    for (let i = 20; i < 40; i++) { emit(i); await sleep(10); }
    assert.equal(mqtt.isConnected, false, 'the broker really was down while events 20-39 were produced');
    await broker.restart();
    for (let i = 40; i < total; i++) emit(i);
    assert.deepEqual(new Set(await Promise.all(sent)), new Set([true]), 'every publish was acknowledged in the end');
    assert.ok(mqtt.stats().reconnects >= 1);

    after = await recorder(broker.url, [], session);
    // QoS 1 may deliver duplicates, so count distinct events, not messages.
    const seen = [...before.messages, ...after.messages].filter((m) => m.topic === 'pers/door/event');
    const distinct = () => new Set([...seen, ...after!.on('pers/door/event')].map((m) => (JSON.parse(m.text) as { to: string }).to));
    await after.waitFor(() => distinct().size >= total, 'all distinct events', 10_000).catch(() => undefined);
    const received = distinct();
    const missing = Array.from({ length: total }, (_, i) => `cat${i}`).filter((l) => !received.has(l));
    assert.deepEqual(missing, [], 'no event lost (duplicates are allowed by QoS 1)');
  } finally {
    await before.end();
    await after?.end();
    await mqtt.stop();
    await broker.stop();
  }
});

test('stop() while the broker is down resolves without hanging', async () => {
  const broker = await startMosquitto();
  const mqtt = makeMqtt(broker.url, { baseTopic: 'down' });
  await mqtt.start();
  await broker.kill();
  await mqtt.stop();
  assert.equal(mqtt.isConnected, false);
  await broker.stop();
});

test('reconnect delay grows by the backoff factor while the broker is down, up to the cap, and resets after reconnecting', async () => {
  const broker = await startMosquitto();
  const mqtt = makeMqtt(broker.url, { baseTopic: 'bo', reconnect: { initialMs: 50, maxMs: 400, factor: 2 } });
  try {
    await mqtt.start();
    const client = (mqtt as unknown as { client: MqttClient }).client;
    const delays: number[] = [];
    // Registered after EdgecamMqtt's own listener, so it sees the delay chosen for the next attempt.
    client.on('reconnect', () => delays.push(client.options.reconnectPeriod ?? -1));
    await broker.kill();
    for (let i = 0; i < 300 && delays.length < 5; i++) await sleep(20);
    assert.deepEqual(delays.slice(0, 5), [100, 200, 400, 400, 400]);
    const reconnected = nextEvent(mqtt, 'reconnected');
    await broker.restart();
    await reconnected;
    assert.equal(client.options.reconnectPeriod, 50);
  } finally {
    await mqtt.stop();
    await broker.stop();
  }
});
