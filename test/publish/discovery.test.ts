import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/logger.js';
import { buildDiscoveryMessages, discoveryNodeId, HomeAssistantDiscovery, type DiscoveryOptions } from '../../src/publish/discovery.js';
import type { EdgecamMqtt } from '../../src/publish/mqtt.js';
import { systemClock } from '../../src/types.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { makeMqtt, recorder, nextEvent } from './helpers.js';

const ctx = {
  prefix: 'homeassistant', baseTopic: 'edgecam', cameraId: 'door', classes: ['cat', 'dog', 'none'],
  swVersion: '0.1.0', deviceName: 'edgecam door', model: 'pets 3', qos: 1 as const,
};

function byTopic(topic: string) {
  const m = buildDiscoveryMessages(ctx).find((x) => x.topic === topic);
  assert.ok(m, `no discovery message on ${topic}`);
  return m.payload as Record<string, unknown>;
}

const expectedCommon = {
  availability_topic: 'edgecam/status',
  payload_available: 'online',
  payload_not_available: 'offline',
  device: { identifiers: ['edgecam_door'], name: 'edgecam door', model: 'pets 3', manufacturer: 'edgecam', sw_version: '0.1.0' },
  origin: { name: 'edgecam', sw_version: '0.1.0' },
  qos: 1,
};

test('discovery topics: one sensor, a binary_sensor per class, an image and a button', () => {
  assert.equal(discoveryNodeId('edgecam', 'Front Door'), 'edgecam_front_door');
  assert.deepEqual(buildDiscoveryMessages(ctx).map((m) => m.topic), [
    'homeassistant/sensor/edgecam_door/label/config',
    'homeassistant/binary_sensor/edgecam_door/cat_present/config',
    'homeassistant/binary_sensor/edgecam_door/dog_present/config',
    'homeassistant/binary_sensor/edgecam_door/none_present/config',
    'homeassistant/image/edgecam_door/snapshot/config',
    'homeassistant/button/edgecam_door/capture/config',
  ]);
});

test('sensor payload, field by field', () => {
  assert.deepEqual(byTopic('homeassistant/sensor/edgecam_door/label/config'), {
    name: 'Label',
    unique_id: 'edgecam_door_label',
    state_topic: 'edgecam/door/state',
    json_attributes_topic: 'edgecam/door/classification',
    icon: 'mdi:eye',
    ...expectedCommon,
  });
});

test('binary_sensor payload, field by field, with a template that matches only its class', () => {
  const p = byTopic('homeassistant/binary_sensor/edgecam_door/cat_present/config');
  assert.deepEqual(p, {
    name: 'cat present',
    unique_id: 'edgecam_door_cat_present',
    state_topic: 'edgecam/door/state',
    value_template: `{{ 'ON' if value == "cat" else 'OFF' }}`,
    payload_on: 'ON',
    payload_off: 'OFF',
    device_class: 'occupancy',
    ...expectedCommon,
  });
  // Labels with quotes or clashing ids stay distinct entities with a literal comparison.
  const odd = buildDiscoveryMessages({ ...ctx, classes: ['my "cat"', 'my cat'] }).filter((m) => m.topic.includes('binary_sensor'));
  assert.deepEqual(odd.map((m) => m.topic), [
    'homeassistant/binary_sensor/edgecam_door/my_cat_present/config',
    'homeassistant/binary_sensor/edgecam_door/my_cat__present/config',
  ]);
  assert.equal(odd[0]!.payload.value_template, `{{ 'ON' if value == "my \\"cat\\"" else 'OFF' }}`);
});

test('image and button payloads, field by field', () => {
  assert.deepEqual(byTopic('homeassistant/image/edgecam_door/snapshot/config'), {
    name: 'Snapshot',
    unique_id: 'edgecam_door_snapshot',
    image_topic: 'edgecam/door/snapshot',
    content_type: 'image/jpeg',
    ...expectedCommon,
  });
  assert.deepEqual(byTopic('homeassistant/button/edgecam_door/capture/config'), {
    name: 'Capture frame',
    unique_id: 'edgecam_door_capture',
    command_topic: 'edgecam/request/capture',
    payload_press: '{"source":"homeassistant"}',
    icon: 'mdi:camera',
    ...expectedCommon,
  });
});

let broker: MosquittoBroker;
before(async () => { broker = await startMosquitto(); });
after(async () => { await broker.stop(); });

function discovery(mqtt: EdgecamMqtt, options: Partial<DiscoveryOptions> = {}) {
  return new HomeAssistantDiscovery({ mqtt, logger: silentLogger(), clock: systemClock }, { enabled: true, classes: ['cat', 'dog'], swVersion: '0.1.0', ...options });
}

test('against mosquitto: retained configs, re-sent on homeassistant/status online, stale classes removed, all removed when disabled', async () => {
  const mqtt = makeMqtt(broker.url, { cameraId: 'hall' });
  await mqtt.start();
  const ha = await recorder(broker.url, ['homeassistant/+/edgecam_hall/+/config']);
  const d1 = discovery(mqtt);
  await d1.start();
  const configs = await ha.waitForCount(() => true, 5, 'five configs');
  assert.deepEqual(configs.map((m) => m.topic).sort(), [
    'homeassistant/binary_sensor/edgecam_hall/cat_present/config',
    'homeassistant/binary_sensor/edgecam_hall/dog_present/config',
    'homeassistant/button/edgecam_hall/capture/config',
    'homeassistant/image/edgecam_hall/snapshot/config',
    'homeassistant/sensor/edgecam_hall/label/config',
  ]);
  // Retained: a Home Assistant that starts later still finds them.
  const lateHa = await recorder(broker.url, ['homeassistant/+/edgecam_hall/+/config']);
  const retained = await lateHa.waitForCount((m) => m.retain, 5, 'five retained configs');
  assert.equal(JSON.parse(retained.find((m) => m.topic.includes('/sensor/'))!.text).state_topic, 'edgecam/hall/state');
  await lateHa.end();

  // Home Assistant restarted: it says online, we send everything again.
  const before = ha.messages.length;
  await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
  await ha.waitForCount((m) => ha.messages.indexOf(m) >= before, 5, 're-sent configs after homeassistant/status online');
  await ha.client.publishAsync('homeassistant/status', 'offline', { qos: 1 });

  // The model changed: dog is gone, bird is new.
  const mark = ha.messages.length;
  await d1.updateClasses(['cat', 'bird']);
  const removedDog = await ha.waitFor((m) => ha.messages.indexOf(m) >= mark && m.topic.endsWith('/dog_present/config'), 'dog removed');
  assert.equal(removedDog.payload.length, 0);
  await ha.waitFor((m) => m.topic.endsWith('/bird_present/config') && m.payload.length > 0, 'bird added');
  await d1.stop();
  await d1.stop();

  // A later run (new process) with a different model: bird's entity is cleared from what the broker held.
  const mark2 = ha.messages.length;
  const d2 = discovery(mqtt, { classes: ['cat'] });
  await d2.start();
  await ha.waitFor((m) => ha.messages.indexOf(m) >= mark2 && m.topic.endsWith('/bird_present/config') && m.payload.length === 0, 'bird removed by a new run');
  await d2.stop();

  // Discovery turned off: every entity of this camera is removed.
  const d3 = discovery(mqtt, { enabled: false });
  await d3.start();
  await d3.stop();
  const finalHa = await recorder(broker.url, ['homeassistant/+/edgecam_hall/+/config', 'edgecam/hall/discovery/sync']);
  await finalHa.client.publishAsync('edgecam/hall/discovery/sync', 'end', { qos: 1 });
  await finalHa.waitFor((m) => m.text === 'end', 'sync marker');
  assert.deepEqual(finalHa.messages.filter((m) => m.retain).map((m) => m.topic), [], 'no retained discovery config left');
  await finalHa.end();
  await ha.end();
  await mqtt.stop();
});

test('discovery is re-published after the broker restarts without persistence', async () => {
  const own = await startMosquitto();
  const mqtt = makeMqtt(own.url, { cameraId: 'yard' });
  try {
    await mqtt.start();
    const d = discovery(mqtt, { classes: ['fox'] });
    await d.start();
    const reconnected = nextEvent(mqtt, 'reconnected');
    await own.restart();
    await reconnected;
    const ha = await recorder(own.url, ['homeassistant/+/edgecam_yard/+/config']);
    // Retained, or live when they are still being re-sent as we subscribe: either way the broker has them again.
    const topics = () => new Set(ha.messages.filter((m) => m.payload.length > 0).map((m) => m.topic));
    await ha.waitFor(() => topics().size === 4, 'four configs on the broker again');
    await ha.end();
    await d.stop();
  } finally {
    await mqtt.stop();
    await own.stop();
  }
});
