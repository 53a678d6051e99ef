import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import { loadConfig, redactConfig, configKeys, configKeysMarkdown, flagsFromArgv, REDACTED } from '../../src/config/index.js';

/** An in-memory file system for the YAML layer. */
function files(map: Record<string, string>): (p: string) => Promise<string> {
  return async (p) => {
    if (p in map) return map[p];
    throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  };
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('no file, no env, no flags: every default', async () => {
  const { config, file } = await loadConfig({ env: {}, readText: files({}) });
  assert.equal(file, undefined);
  assert.equal(config.camera.source, 'folder:samples');
  assert.equal(config.camera.stallTimeout, 5);
  assert.deepEqual(config.model.providers, ['cuda', 'cpu']);
  assert.equal(config.model.intraOpThreads, 1);
  assert.equal(config.mqtt.url, undefined);
  assert.equal(config.mqtt.baseTopic, 'edgecam');
  assert.equal(config.mqtt.cameraId, 'door');
  assert.equal(config.mqtt.discovery.prefix, 'homeassistant');
  assert.equal(config.mqtt.discovery.enabled, true);
  assert.equal(config.mqtt.tls.rejectUnauthorized, true);
  assert.equal(config.http.host, '127.0.0.1');
  assert.equal(config.log.level, 'info');
});

test('precedence: defaults < YAML < env < flags, each origin remembered', async () => {
  const yaml = 'camera:\n  fps: 3\n  source: folder:/yaml\nmqtt:\n  baseTopic: fromyaml\n  cameraId: yamlcam\n  discovery:\n    prefix: ha\n';
  const { config, origins, file } = await loadConfig({
    file: 'my.yaml',
    readText: files({ 'my.yaml': yaml }),
    env: { EDGECAM_CAMERA_FPS: '7', EDGECAM_MQTT_BASE_TOPIC: 'fromenv', EDGECAM_MODEL_PROVIDERS: 'cpu', EDGECAM_DECISION_THRESHOLDS: '{"cat":0.8}', EDGECAM_MQTT_DISCOVERY_ENABLED: 'no', PATH: '/bin' },
    flags: { fps: 9, cameraId: 'flagcam' },
  });
  assert.equal(file, 'my.yaml');
  assert.equal(config.camera.fps, 9, 'flag beats env and file');
  assert.equal(config.camera.source, 'folder:/yaml', 'file beats default');
  assert.equal(config.mqtt.baseTopic, 'fromenv', 'env beats file');
  assert.equal(config.mqtt.cameraId, 'flagcam', 'flag beats file');
  assert.equal(config.mqtt.discovery.prefix, 'ha');
  assert.equal(config.mqtt.discovery.enabled, false);
  assert.deepEqual(config.model.providers, ['cpu']);
  assert.deepEqual(config.decision.thresholds, { cat: 0.8 });
  assert.equal(origins['camera.fps'], 'flag --fps');
  assert.equal(origins['mqtt.baseTopic'], 'env EDGECAM_MQTT_BASE_TOPIC');
  assert.equal(origins['camera.source'], 'file my.yaml');
});

test('the default edgecam.yaml is read when present; EDGECAM_CONFIG names another', async () => {
  const a = await loadConfig({ env: {}, readText: files({ 'edgecam.yaml': 'http:\n  port: 9000\n' }) });
  assert.equal(a.config.http.port, 9000);
  const b = await loadConfig({ env: { EDGECAM_CONFIG: '/etc/e.yaml' }, readText: files({ '/etc/e.yaml': 'http:\n  port: 9001\n' }) });
  assert.equal(b.config.http.port, 9001);
});

test('every error from every layer is reported at once, with its key and origin', async () => {
  const yaml = 'camera:\n  fsp: 3\n  stallTimeout: -1\nmqtt:\n  qos: 5\n  cameraId: "bad id"\ndecision:\n  votes: 9\n  window: 3\n';
  const err = await configError(loadConfig({
    file: 'e.yaml',
    readText: files({ 'e.yaml': yaml }),
    env: { EDGECAM_HTTP_PORT: 'eighty', EDGECAM_DECISION_THRESHOLDS: '{nope' },
    flags: { source: 'usb0', mqttUrl: 'localhost:1883' },
  }));
  const text = err.issues.join('\n');
  for (const expected of [
    /camera: Unrecognized key.*"fsp"/,
    /camera\.stallTimeout \(from file e\.yaml\)/,
    /mqtt\.qos \(from file e\.yaml\)/,
    /mqtt\.cameraId \(from file e\.yaml\): letters, digits/,
    /decision\.votes.*cannot exceed window/,
    /http\.port \(from env EDGECAM_HTTP_PORT\): .*expected number/,
    /decision\.thresholds \(from EDGECAM_DECISION_THRESHOLDS\): expected a JSON object/,
    /camera\.source \(from flag --source\): must look like folder:/,
    /mqtt\.url \(from flag --mqtt-url\): must be a broker URL/,
  ]) assert.match(text, expected);
  assert.equal(err.issues.length, 9, text);
  assert.equal(err.code, 'CONFIG_INVALID');
});

test('a missing --config file and broken YAML are errors; a missing default file is not', async () => {
  const missing = await configError(loadConfig({ file: 'nope.yaml', env: {}, readText: files({}) }));
  assert.match(missing.issues[0], /config file nope\.yaml: cannot read it \(ENOENT\)/);
  const broken = await configError(loadConfig({ file: 'b.yaml', env: {}, readText: files({ 'b.yaml': 'camera:\n  fps: [1\n' }) }));
  assert.match(broken.issues[0], /config file b\.yaml: YAML error/);
  const list = await configError(loadConfig({ file: 'l.yaml', env: {}, readText: files({ 'l.yaml': '- a\n- b\n' }) }));
  assert.match(list.issues[0], /top level must be a mapping/);
});

test('unknown EDGECAM_ variables are warnings, not errors', async () => {
  const { warnings } = await loadConfig({ env: { EDGECAM_CAMERA_FPSS: '3' }, readText: files({}) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /EDGECAM_CAMERA_FPSS/);
});

test('redaction hides passwords, TLS keys and URL credentials without touching the original', async () => {
  const { config } = await loadConfig({
    env: { EDGECAM_MQTT_PASSWORD: 'hunter2', EDGECAM_MQTT_URL: 'mqtt://bob:pw1@broker:1883', EDGECAM_MQTT_TLS_KEY: '/k.pem', EDGECAM_CAMERA_SOURCE: 'ffmpeg:rtsp://admin:camsecret@cam/stream' },
    readText: files({}),
  });
  const r = redactConfig(config);
  assert.equal(r.mqtt.password, REDACTED);
  assert.equal(r.mqtt.tls.key, REDACTED);
  assert.equal(r.mqtt.url, `mqtt://bob:${REDACTED}@broker:1883`);
  assert.equal(r.camera.source, `ffmpeg:rtsp://admin:${REDACTED}@cam/stream`);
  assert.ok(!JSON.stringify(r).includes('hunter2') && !JSON.stringify(r).includes('camsecret') && !JSON.stringify(r).includes('pw1'));
  assert.equal(config.mqtt.password, 'hunter2', 'original untouched');
});

test('flags from yargs: numbers parsed, non-numbers passed on for the schema to report', () => {
  assert.deepEqual(flagsFromArgv({ fps: '2.5', 'http-port': '0', 'mqtt-url': 'mqtt://x', config: 'c.yaml' }), { file: 'c.yaml', flags: { fps: 2.5, httpPort: 0, mqttUrl: 'mqtt://x' } });
  assert.deepEqual(flagsFromArgv({ fps: 'abc' }).flags, { fps: 'abc' });
});

test('env names follow EDGECAM_<SECTION>_<KEY> and README-keys.md documents every key', async () => {
  const keys = configKeys();
  const env = new Map(keys.map((k) => [k.path, k.env]));
  assert.equal(env.get('mqtt.url'), 'EDGECAM_MQTT_URL');
  assert.equal(env.get('mqtt.baseTopic'), 'EDGECAM_MQTT_BASE_TOPIC');
  assert.equal(env.get('mqtt.discovery.prefix'), 'EDGECAM_MQTT_DISCOVERY_PREFIX');
  assert.equal(env.get('model.intraOpThreads'), 'EDGECAM_MODEL_INTRA_OP_THREADS');
  assert.ok(keys.every((k) => k.description.length > 0), 'every key has a description');
  const here = dirname(fileURLToPath(import.meta.url));
  const doc = await readFile(join(here, '../../../src/config/README-keys.md'), 'utf8');
  assert.ok(doc.includes(configKeysMarkdown()), 'README-keys.md is stale: regenerate with `edgecam config keys`');
  // The README carries the same table between markers, so a user finds every key and its default there.
  const readme = await readFile(join(here, '../../../README.md'), 'utf8');
  const between = /<!-- config-keys:start -->\n([\s\S]*?)<!-- config-keys:end -->/.exec(readme)?.[1];
  assert.equal(between, configKeysMarkdown(), 'README.md key table is stale: paste `edgecam config keys` between the config-keys markers');
});

test('the flat decision section maps onto postprocess options (vote and ema)', async () => {
  const { decisionOptionsOf } = await import('../../src/config/decision.js');
  const vote = await loadConfig({ env: { EDGECAM_DECISION_WINDOW: '7', EDGECAM_DECISION_VOTES: '4', EDGECAM_DECISION_ENTER: '0.8', EDGECAM_DECISION_EXIT: '0.6' }, readText: files({}) });
  assert.deepEqual(decisionOptionsOf(vote.config.decision), {
    minConfidence: 0.5, thresholds: {}, smoothing: { method: 'vote', window: 7, required: 4 }, hysteresis: { enter: 0.8, exit: 0.6 }, minDwellMs: 1000,
  });
  const ema = await loadConfig({ env: { EDGECAM_DECISION_SMOOTHING: 'ema', EDGECAM_DECISION_EMA_ALPHA: '0.25' }, readText: files({}) });
  assert.deepEqual(decisionOptionsOf(ema.config.decision).smoothing, { method: 'ema', alpha: 0.25 });
  const bad = await configError(loadConfig({ env: { EDGECAM_DECISION_ENTER: '0.4', EDGECAM_DECISION_EXIT: '0.6' }, readText: files({}) }));
  assert.match(bad.issues.join('\n'), /decision\.exit.*must be ≤ enter/);
});
