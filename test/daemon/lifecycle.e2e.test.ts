import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { createDaemon } from '../../src/main.js';
import { ModelStore } from '../../src/models/store.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { Recorder, solidJpeg, writeColourModel, writeImages } from './fixtures.js';

/**
 * What happens to a daemon over months, in-process with every real part (mosquitto, folder replay, sharp, ORT):
 * the active model of a versioned store re-pointed by `model activate` / `model rollback` while it runs, and Home
 * Assistant discovery turned off between two runs (its entities must disappear from the broker, not linger retained).
 */

let broker: MosquittoBroker;
let work: string;
before(async () => {
  broker = await startMosquitto();
  work = await mkdtemp(join(tmpdir(), 'edgecam-lifecycle-'));
});
after(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

function config(overrides: ConfigInput & { images: string; modelDir: string; base: string }) {
  const { images, modelDir, base, ...rest } = overrides;
  return configSchema.parse({
    camera: { source: `folder:${images}`, fps: 10 },
    model: { dir: modelDir, providers: ['cpu'] },
    decision: { window: 1, votes: 1, minDwellMs: 0, enter: 0.6, exit: 0.5, minConfidence: 0.5 },
    mqtt: { url: broker.url, baseTopic: base, cameraId: 'door', discovery: { prefix: `ha-${base}` } },
    http: { enabled: false },
    collect: { dir: join(work, 'collect') },
    log: { level: 'silent', decisions: false },
    ...rest,
  });
}

test('the store\'s active model re-pointed while running (activate, then rollback): swapped between frames, labels and discovery follow', { timeout: 90_000 }, async () => {
  const images = join(work, 'store-camera');
  await writeImages(images, { 'a.jpg': await solidJpeg(240, 10, 10) });
  const root = join(work, 'models');
  const store = new ModelStore({ logger: silentLogger() }, root);
  for (const [version, labels] of [['1', ['red', 'green', 'blue']], ['2', ['cat', 'dog', 'none']]] as const) {
    const staging = join(work, `staging-${version}`);
    await writeColourModel(staging, [...labels], version);
    await store.addFolder(staging, { status: 'accepted' });
  }
  await store.activate('1');

  const cfg = config({ images, modelDir: join(root, 'active'), base: 'life' });
  const rec = await Recorder.connect(broker.url, ['life/#', 'ha-life/#']);
  const daemon = await createDaemon(cfg, silentLogger());
  try {
    await daemon.start();
    await rec.next(rec.on('life/door/state', 'red'));

    let mark = rec.messages.length;
    await store.activate('2'); // what `edgecam model activate 2` does: re-points the `active` symlink
    await rec.next(rec.on('life/door/state', 'cat'), 15_000, mark);
    const cls = JSON.parse((await rec.next((m) => m.topic === 'life/door/classification' && m.payload.includes('"version":"2"'), 5000, mark)).payload.toString());
    assert.equal(cls.label, 'cat');
    await rec.next((m) => m.topic === 'ha-life/binary_sensor/life_door/cat_present/config' && m.payload.length > 0, 5000, mark);
    await rec.next((m) => m.topic === 'ha-life/binary_sensor/life_door/red_present/config' && m.payload.length === 0, 5000, mark);
    assert.equal(daemon.snapshot().model?.version, '2');
    assert.equal(daemon.snapshot().model?.dir, join(root, 'versions', '2'));

    mark = rec.messages.length;
    await store.rollback(); // `edgecam model rollback`
    await rec.next(rec.on('life/door/state', 'red'), 15_000, mark);
    assert.equal(daemon.snapshot().model?.version, '1');
    assert.equal(daemon.snapshot().counters.failed, 0, 'no frame failed across the swaps');
    assert.equal(daemon.snapshot().reloads.failed, 0);
  } finally {
    await daemon.stop();
    await rec.close();
  }
});

test('Home Assistant: the Capture button captures; discovery turned off between runs removes every entity of the first run from the broker', { timeout: 90_000 }, async (t) => {
  const images = join(work, 'ha-camera');
  const modelDir = join(work, 'ha-model');
  await writeImages(images, { 'a.jpg': await solidJpeg(10, 240, 10) });
  await writeColourModel(modelDir, ['red', 'green', 'blue']);
  const configTopics = (r: Recorder, from = 0) => new Set(r.messages.slice(from).filter((m) => m.topic.startsWith('ha-hadis/') && m.payload.length > 0).map((m) => m.topic));

  const rec = await Recorder.connect(broker.url, ['ha-hadis/#', 'hadis/#']);
  t.after(() => rec.close()); // also when an assertion fails: an open client would keep the test process alive
  const first = await createDaemon(config({ images, modelDir, base: 'hadis' }), silentLogger());
  try {
    await first.start();
    await rec.next(rec.on('hadis/door/state', 'green'));
    const button = JSON.parse((await rec.next((m) => m.topic === 'ha-hadis/button/hadis_door/capture/config' && m.payload.length > 0)).payload.toString());
    // Pressing the button in Home Assistant publishes payload_press on command_topic: it must capture a frame.
    const from = rec.messages.length;
    await rec.client.publishAsync(button.command_topic, button.payload_press, { qos: 1 });
    const pressed = JSON.parse((await rec.next(rec.on('hadis/response/capture'), 10_000, from)).payload.toString());
    assert.equal(pressed.status, 'ok', JSON.stringify(pressed));
    assert.deepEqual([...(await readFile(pressed.data.image)).subarray(0, 2)], [0xff, 0xd8]);
  } finally {
    await first.stop();
  }
  const published = configTopics(rec);
  // A sensor, three binary_sensors, an image and a button.
  assert.equal(published.size, 6, [...published].join(', '));

  const mark = rec.messages.length;
  const second = await createDaemon(config({ images, modelDir, base: 'hadis', mqtt: { url: broker.url, baseTopic: 'hadis', cameraId: 'door', discovery: { enabled: false, prefix: 'ha-hadis' } } }), silentLogger());
  try {
    await second.start();
    for (const topic of published) await rec.next((m) => m.topic === topic && m.payload.length === 0, 10_000, mark);
    assert.equal(configTopics(rec, mark).size, 0, 'nothing re-published while disabled');
    await rec.next(rec.on('hadis/door/state', 'green'), 15_000, mark);
  } finally {
    await second.stop();
  }

  // A subscriber arriving now (Home Assistant restarting) gets no retained config for this camera; a marker published
  // after subscribing arrives after every retained message, so its arrival proves there were none.
  const late = await Recorder.connect(broker.url, ['ha-hadis/#', 'hadis/marker']);
  t.after(() => late.close());
  await late.client.publishAsync('hadis/marker', 'end', { qos: 1 });
  await late.next(late.on('hadis/marker', 'end'));
  assert.deepEqual(late.messages.filter((m) => m.topic.startsWith('ha-hadis/')).map((m) => m.topic), []);
});
