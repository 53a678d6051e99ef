import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { z } from 'zod';
import { EdgecamError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { EmbeddedBroker } from '../../src/publish/embedded-broker.js';
import { RequestRouter } from '../../src/publish/requests.js';
import { makeMqtt, recorder } from './helpers.js';

test('embedded aedes broker: retained state, request round trip, last will, stop twice', async () => {
  const broker = new EmbeddedBroker({ logger: silentLogger() });
  await broker.start();
  assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(broker.port > 0);
  const mqtt = makeMqtt(broker.url);
  const router = new RequestRouter({ mqtt, logger: silentLogger() });
  router.register('status', z.object({}), async () => ({ ok: 1 }));
  try {
    await mqtt.start();
    await router.start();
    await mqtt.publishState('cat');
    const sub = await recorder(broker.url, ['edgecam/door/state', 'edgecam/status', 'edgecam/response/+']);
    await sub.waitFor((m) => m.topic === 'edgecam/door/state' && m.retain && m.text === 'cat', 'retained state');
    await sub.waitFor((m) => m.topic === 'edgecam/status' && m.text === 'online', 'online');
    await sub.client.publishAsync('edgecam/request/status', '{"transaction":5}', { qos: 1 });
    const response = await sub.waitFor((m) => m.topic === 'edgecam/response/status', 'response');
    assert.deepEqual(JSON.parse(response.text), { status: 'ok', data: { ok: 1 }, transaction: 5 });
    assert.equal(broker.connectedClients, 2);
    // Abrupt death of the daemon's connection: aedes publishes the last will.
    (mqtt as unknown as { client: { stream: net.Socket } }).client.stream.destroy();
    await sub.waitFor((m) => m.topic === 'edgecam/status' && m.text === 'offline', 'last will');
    await sub.end();
  } finally {
    await router.stop();
    await mqtt.stop();
    await broker.stop();
    await broker.stop();
  }
  assert.equal(await canConnect(broker.port), false, 'the port is closed after stop()');
});

test('embedded broker on a port already in use: a clear BROKER_LISTEN error', async () => {
  const first = new EmbeddedBroker({ logger: silentLogger() });
  await first.start();
  const second = new EmbeddedBroker({ logger: silentLogger() }, { port: first.port });
  await assert.rejects(second.start(), (err: unknown) => err instanceof EdgecamError && err.code === 'BROKER_LISTEN' && err.message.includes(String(first.port)));
  await second.stop();
  await first.stop();
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
