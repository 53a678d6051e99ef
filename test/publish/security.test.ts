import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/logger.js';
import { MqttError, classifyMqttError, loadTlsMaterial, redactUrl } from '../../src/publish/mqtt-errors.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { makeMqtt, recorder, sleep, nextEvent } from './helpers.js';

const execFileAsync = promisify(execFile);

const USER = 'edgecam';
const PASSWORD = 'S3cret-pa55word';
let broker: MosquittoBroker;

before(async () => { broker = await startMosquitto({ tls: true, auth: { username: USER, password: PASSWORD } }); });
after(async () => { await broker.stop(); });

function capturingLogger() {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => { text += d.toString(); });
  return { logger: createLogger({ level: 'debug', destination: sink, pretty: false }), text: () => text };
}

test('TLS (CA file path) + username/password: connects and publishes', async () => {
  assert.match(broker.url, /^mqtts:\/\//);
  const { logger, text } = capturingLogger();
  const mqtt = makeMqtt(broker.url, { baseTopic: 'sec', username: USER, password: PASSWORD, tls: { ca: broker.caFile! } }, logger);
  await mqtt.start();
  assert.equal(await mqtt.publishState('cat'), true);
  const ca = await readFile(broker.caFile!);
  const sub = await recorder(broker.url, ['sec/door/state'], { username: USER, password: PASSWORD, ca });
  assert.equal((await sub.waitFor(() => true, 'state over TLS')).text, 'cat');
  await sub.end();
  await mqtt.stop();
  assert.ok(!text().includes(PASSWORD), 'the password never reaches the log');
});

test('TLS with the CA given inline as PEM text works too', async () => {
  const pem = (await readFile(broker.caFile!)).toString();
  const mqtt = makeMqtt(broker.url, { baseTopic: 'sec2', username: USER, password: PASSWORD, tls: { ca: pem } });
  await mqtt.start();
  assert.equal(mqtt.isConnected, true);
  await mqtt.stop();
});

test('wrong password: a clear MQTT_AUTH error, without the password in message or log', async () => {
  const { logger, text } = capturingLogger();
  const wrong = 'not-the-password-123';
  const mqtt = makeMqtt(broker.url, { username: USER, password: wrong, tls: { ca: broker.caFile! } }, logger);
  await assert.rejects(mqtt.start(), (err: unknown) => {
    assert.ok(err instanceof MqttError);
    assert.equal(err.code, 'MQTT_AUTH');
    assert.match(err.message, /refused the login/);
    assert.match(err.message, /mqtt\.username and mqtt\.password/);
    assert.ok(!err.message.includes(wrong));
    return true;
  });
  assert.match(text(), /MQTT_AUTH/);
  assert.ok(!text().includes(wrong), 'the wrong password is not logged either');
  await mqtt.stop();
});

test('a broker certificate from an unknown CA: a clear MQTT_TLS error', async () => {
  const mqtt = makeMqtt(broker.url, { username: USER, password: PASSWORD });
  await assert.rejects(mqtt.start(), (err: unknown) => err instanceof MqttError && err.code === 'MQTT_TLS' && /mqtt\.tls\.ca/.test(err.message));
});

test('a missing CA file: MQTT_TLS_FILE naming the file', async () => {
  const mqtt = makeMqtt(broker.url, { username: USER, password: PASSWORD, tls: { ca: '/nonexistent/ca.pem' } });
  await assert.rejects(mqtt.start(), (err: unknown) => err instanceof MqttError && err.code === 'MQTT_TLS_FILE' && err.message.includes('/nonexistent/ca.pem'));
  await assert.rejects(loadTlsMaterial({ cert: '-----BEGIN CERTIFICATE-----\n' }), /set both or neither/);
});

test('nothing listening: MQTT_UNREACHABLE; URL passwords are masked', async () => {
  assert.equal(redactUrl('mqtt://user:hunter2@broker.local:1883'), 'mqtt://user:***@broker.local:1883');
  assert.equal(redactUrl('mqtt://broker.local:1883'), 'mqtt://broker.local:1883');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  assert.equal(classifyMqttError(refused, 'mqtt://127.0.0.1:1').code, 'MQTT_UNREACHABLE');
  const mqtt = makeMqtt('mqtt://u:hunter2@127.0.0.1:1');
  await assert.rejects(mqtt.start(), (err: unknown) => err instanceof MqttError && err.code === 'MQTT_UNREACHABLE' && !err.message.includes('hunter2'));
});

test('refused after running (password changed on the broker): logged as MQTT_AUTH, retried, and recovers when fixed', async () => {
  const own = await startMosquitto({ auth: { username: USER, password: PASSWORD } });
  const { logger, text } = capturingLogger();
  const mqtt = makeMqtt(own.url, { baseTopic: 'rot', username: USER, password: PASSWORD, reconnect: { initialMs: 50, maxMs: 200 } }, logger);
  const passwd = (pw: string) => execFileAsync('mosquitto_passwd', ['-b', path.join(own.dir, 'passwords'), USER, pw]);
  try {
    await mqtt.start();
    await passwd('rotated-password');
    await own.restart();
    for (let i = 0; i < 250 && !text().includes('MQTT_AUTH'); i++) await sleep(20);
    assert.match(text(), /"code":"MQTT_AUTH"/);
    assert.equal(mqtt.isConnected, false);
    const reconnected = nextEvent(mqtt, 'reconnected');
    await passwd(PASSWORD);
    await own.restart();
    await reconnected;
    assert.equal(mqtt.isConnected, true);
    assert.ok(!text().includes(PASSWORD) && !text().includes('rotated-password'));
  } finally {
    await mqtt.stop();
    await own.stop();
  }
});
