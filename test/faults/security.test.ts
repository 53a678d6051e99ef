import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { solidJpeg, writeColourModel, writeImages } from '../daemon/fixtures.js';
import { buildDaemon, capturedLogger, waitUntil } from './harness.js';

/**
 * The whole daemon against a mosquitto this test configures for TLS (a throw-away CA made here) and a password:
 * it connects and publishes; the password appears in no log line, response, metric or health body; wrong
 * credentials stop `edgecam run` with a clear refusal that does not echo the password either.
 */

const USER = 'edgecam-cam';
const PASSWORD = 'Tr1cky-pa55word-do-not-log';
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let broker: MosquittoBroker;
let work: string;

before(async () => {
  broker = await startMosquitto({ tls: true, auth: { username: USER, password: PASSWORD } });
  work = await mkdtemp(join(tmpdir(), 'edgecam-faults-security-'));
  await writeImages(join(work, 'camera'), { 'a.jpg': await solidJpeg(10, 240, 10) });
  await writeColourModel(join(work, 'model'), ['red', 'green', 'blue']);
});
after(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

test('TLS + username/password: the daemon serves over mqtts, and the password is in no log line, response, metric or health body', async () => {
  assert.match(broker.url, /^mqtts:\/\//);
  const { logger, text } = capturedLogger('trace');
  const { daemon } = buildDaemon({
    logger,
    config: {
      camera: { source: `folder:${join(work, 'camera')}`, fps: 5 },
      model: { dir: join(work, 'model'), watch: false },
      mqtt: { url: broker.url, username: USER, password: PASSWORD, tls: { ca: broker.caFile! }, baseTopic: 'sec', cameraId: 'door' },
      http: { port: 0 },
      log: { level: 'trace', decisions: false },
    },
  });
  const ca = await readFile(broker.caFile!);
  const seen: { topic: string; text: string }[] = [];
  const sub = await mqtt.connectAsync(broker.url, { username: USER, password: PASSWORD, ca, reconnectPeriod: 0 });
  sub.on('message', (topic, payload) => seen.push({ topic, text: payload.toString() }));
  await sub.subscribeAsync(['sec/#', 'homeassistant/#'], { qos: 1 });
  try {
    await daemon.start();
    await waitUntil(() => seen.some((m) => m.topic === 'sec/door/state' && m.text === 'green'), 15_000, 'state over TLS');
    await sub.publishAsync('sec/request/status', JSON.stringify({ transaction: 1 }), { qos: 1 });
    await waitUntil(() => seen.some((m) => m.topic === 'sec/response/status'), 10_000, 'status response');
    const health = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/healthz`)).text();
    const metrics = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
    assert.match(text(), /connected to MQTT broker/, 'the log was captured');
    for (const [where, body] of [['log', text()], ['MQTT messages', seen.map((m) => m.text).join('\n')], ['/healthz', health], ['/metrics', metrics]] as const) {
      assert.ok(!body.includes(PASSWORD), `the password appears in ${where}`);
    }
  } finally {
    await daemon.stop();
    await sub.endAsync(true);
  }
  assert.ok(!text().includes(PASSWORD));
});

function run(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

test('wrong password: `edgecam run` exits 1 with a clear refusal naming what to fix, and never prints the password', async () => {
  const wrong = 'Wr0ng-but-secret-too';
  const config = join(work, 'edgecam.yaml');
  await writeFile(config, [
    'mqtt:', `  url: ${broker.url}`, `  username: ${USER}`, `  password: ${wrong}`, '  tls:', `    ca: ${broker.caFile}`,
    'camera:', `  source: folder:${join(work, 'camera')}`, 'model:', `  dir: ${join(work, 'model')}`, '  watch: false', 'http:', '  enabled: false', '',
  ].join('\n'));
  const { code, out } = await run(['run', '--config', config, '--log-level', 'debug'], {});
  assert.equal(code, 1, out);
  assert.match(out, /MQTT_AUTH/);
  assert.match(out, /refused the login/);
  assert.match(out, /mqtt\.username and mqtt\.password/);
  assert.ok(!out.includes(wrong), 'the wrong password is not printed');

  // The same through the environment (how the systemd unit passes secrets) and in the URL: still never printed.
  const viaEnv = await run(['run', '--config', config, '--log-level', 'debug'], { EDGECAM_MQTT_PASSWORD: `${wrong}-env` });
  assert.equal(viaEnv.code, 1, viaEnv.out);
  assert.ok(!viaEnv.out.includes(`${wrong}-env`), 'a password from the environment is not printed');
  const inUrl = broker.url.replace('mqtts://', `mqtts://${USER}:${wrong}-url@`);
  const viaUrl = await run(['run', '--config', config, '--mqtt-url', inUrl, '--log-level', 'debug'], {});
  assert.equal(viaUrl.code, 1, viaUrl.out);
  assert.ok(!viaUrl.out.includes(`${wrong}-url`), `a password inside the URL is not printed:\n${viaUrl.out}`);
});
