import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { configSchema } from '../../src/config/schema.js';
import { mqttOptionsOf } from '../../src/daemon/wiring.js';
import { createLogger } from '../../src/logger.js';
import { EdgecamMqtt } from '../../src/publish/mqtt.js';
import { systemClock } from '../../src/types.js';
import { startMosquitto } from '../fakes/mosquitto.js';

function mqttConfig(mqtt: Record<string, unknown>) {
  return configSchema.parse({ mqtt }).mqtt;
}

test('mqttOptionsOf passes TLS settings only for a TLS URL or when TLS files are configured', () => {
  assert.equal(mqttOptionsOf(mqttConfig({}), 'mqtt://127.0.0.1:1884').tls, undefined, 'plain default config: no TLS');
  assert.deepEqual(mqttOptionsOf(mqttConfig({ tls: { rejectUnauthorized: false } }), 'mqtts://broker:8883').tls, { rejectUnauthorized: false });
  assert.deepEqual(mqttOptionsOf(mqttConfig({}), 'wss://broker/mqtt').tls, { rejectUnauthorized: true });
  // A CA with a plain URL is kept, so the publisher can warn that it is not used.
  assert.deepEqual(mqttOptionsOf(mqttConfig({ tls: { ca: '/etc/ca.pem' } }), 'mqtt://broker:1883').tls, { ca: '/etc/ca.pem', rejectUnauthorized: true });
});

test('a default config on a plain broker connects without any TLS warning', async () => {
  const broker = await startMosquitto();
  const lines: string[] = [];
  const destination = new PassThrough();
  destination.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const logger = createLogger({ level: 'warn', destination, pretty: false });
  const { connectAsync } = await import('mqtt');
  const mqtt = new EdgecamMqtt({ connect: connectAsync, logger, clock: systemClock }, mqttOptionsOf(mqttConfig({ baseTopic: 'wiring' }), broker.url));
  try {
    await mqtt.start();
    assert.equal(mqtt.stats().connected, true);
  } finally {
    await mqtt.stop();
    await broker.stop();
  }
  assert.deepEqual(lines.filter((l) => /tls/i.test(l)), []);
});
