import { randomBytes } from 'node:crypto';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Clock, Component } from '../types.js';
import type { MqttBus } from './mqtt.js';
import { OFFLINE, ONLINE, STATUS_TOPIC, cameraTopic, topicMatches, topicSafeId } from './topics.js';

/**
 * Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).
 * Full option names throughout (no abbreviations), one config topic per entity:
 *   <prefix>/<component>/<node_id>/<object_id>/config   retained JSON; an empty retained payload removes it.
 *
 * One device per camera with: a `sensor` (stable label; the classification JSON as attributes), one
 * `binary_sensor` per class ("cat present"), an `image` (snapshot JPEG) and a `button` (capture a frame).
 * All share the availability topic `<base>/status`.
 */

export interface DiscoveryOptions {
  enabled: boolean;
  /** Home Assistant's discovery prefix. */
  prefix?: string;
  /** Model labels; one binary_sensor each. */
  classes: string[];
  /** edgecam's version (device sw_version and origin). */
  swVersion: string;
  /** Device name shown in Home Assistant (default `edgecam <cameraId>`). */
  deviceName?: string;
  /** Device model (e.g. the active model's name and version). */
  model?: string;
  /** How long start() waits for the broker to hand back our old retained configs. */
  sweepTimeoutMs?: number;
}

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/** Fields every context needs to build payloads; pure input to `buildDiscoveryMessages`. */
export interface DiscoveryContext {
  prefix: string;
  baseTopic: string;
  cameraId: string;
  classes: string[];
  swVersion: string;
  deviceName: string;
  model: string;
  qos: 0 | 1 | 2;
}

export function discoveryNodeId(baseTopic: string, cameraId: string): string {
  return `${topicSafeId(baseTopic)}_${topicSafeId(cameraId)}`;
}

/** Every discovery config edgecam publishes for one camera, in a stable order. */
export function buildDiscoveryMessages(ctx: DiscoveryContext): DiscoveryMessage[] {
  const node = discoveryNodeId(ctx.baseTopic, ctx.cameraId);
  const base = `${ctx.baseTopic}/`;
  const stateTopic = base + cameraTopic(ctx.cameraId, 'state');
  const common = {
    availability_topic: base + STATUS_TOPIC,
    payload_available: ONLINE,
    payload_not_available: OFFLINE,
    device: {
      identifiers: [node],
      name: ctx.deviceName,
      model: ctx.model,
      manufacturer: 'edgecam',
      sw_version: ctx.swVersion,
    },
    origin: { name: 'edgecam', sw_version: ctx.swVersion },
    qos: ctx.qos,
  };
  const config = (component: string, objectId: string) => `${ctx.prefix}/${component}/${node}/${objectId}/config`;
  const messages: DiscoveryMessage[] = [
    {
      topic: config('sensor', 'label'),
      payload: {
        name: 'Label',
        unique_id: `${node}_label`,
        state_topic: stateTopic,
        json_attributes_topic: base + cameraTopic(ctx.cameraId, 'classification'),
        icon: 'mdi:eye',
        ...common,
      },
    },
  ];
  const seen = new Set<string>();
  for (const label of ctx.classes) {
    let objectId = topicSafeId(label);
    // Two labels that differ only in punctuation must not overwrite each other's entity.
    while (seen.has(objectId)) objectId += '_';
    seen.add(objectId);
    messages.push({
      topic: config('binary_sensor', `${objectId}_present`),
      payload: {
        name: `${label} present`,
        unique_id: `${node}_${objectId}_present`,
        state_topic: stateTopic,
        // JSON string escaping is valid Jinja string syntax, so any label is matched literally.
        value_template: `{{ 'ON' if value == ${JSON.stringify(label)} else 'OFF' }}`,
        payload_on: 'ON',
        payload_off: 'OFF',
        device_class: 'occupancy',
        ...common,
      },
    });
  }
  messages.push(
    {
      topic: config('image', 'snapshot'),
      payload: {
        name: 'Snapshot',
        unique_id: `${node}_snapshot`,
        image_topic: base + cameraTopic(ctx.cameraId, 'snapshot'),
        content_type: 'image/jpeg',
        ...common,
      },
    },
    {
      topic: config('button', 'capture'),
      payload: {
        name: 'Capture frame',
        unique_id: `${node}_capture`,
        command_topic: `${base}request/capture`,
        // The request router expects a JSON object; this one tells the handler who asked.
        payload_press: JSON.stringify({ source: 'homeassistant' }),
        icon: 'mdi:camera',
        ...common,
      },
    },
  );
  return messages;
}

/**
 * Publishes discovery, re-sends it when Home Assistant (or the broker) comes back, and removes what no
 * longer applies: on start it asks the broker for this camera's retained configs, so entities of classes
 * a previous model had, or all of them when discovery was turned off, are cleared even across restarts.
 */
export class HomeAssistantDiscovery implements Component {
  private published = new Set<string>();
  private started = false;
  private classes: string[];
  private readonly log: Logger;
  private readonly onHaStatus = async (_topic: string, payload: Buffer): Promise<void> => {
    if (payload.toString() !== ONLINE) return;
    this.log.info('Home Assistant is online; re-sending discovery');
    await this.publishAll();
  };
  private readonly onReconnected = (): void => {
    void this.publishAll();
  };

  constructor(private readonly deps: { mqtt: MqttBus; logger: Logger; clock: Clock }, private readonly options: DiscoveryOptions) {
    this.classes = [...options.classes];
    this.log = deps.logger.child({ component: 'discovery' });
  }

  get prefix(): string {
    return this.options.prefix ?? 'homeassistant';
  }

  messages(): DiscoveryMessage[] {
    if (!this.options.enabled) return [];
    const { mqtt } = this.deps;
    return buildDiscoveryMessages({
      prefix: this.prefix,
      baseTopic: mqtt.baseTopic,
      cameraId: mqtt.cameraId,
      classes: this.classes,
      swVersion: this.options.swVersion,
      deviceName: this.options.deviceName ?? `edgecam ${mqtt.cameraId}`,
      model: this.options.model ?? 'edgecam',
      qos: mqtt.qos.discovery,
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const existing = await this.retainedConfigs();
    await this.publishAll();
    await this.remove([...existing].filter((t) => !this.published.has(t)));
    if (!this.options.enabled) return;
    await this.deps.mqtt.subscribe(`${this.prefix}/status`, this.onHaStatus, { absolute: true });
    this.deps.mqtt.on('reconnected', this.onReconnected);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.deps.mqtt.off('reconnected', this.onReconnected);
    if (this.options.enabled) await this.deps.mqtt.unsubscribe(`${this.prefix}/status`, this.onHaStatus, { absolute: true });
  }

  /** The model changed: publish entities for the new classes and remove those of classes that are gone. */
  async updateClasses(classes: string[]): Promise<void> {
    this.classes = [...classes];
    const before = new Set(this.published);
    await this.publishAll();
    await this.remove([...before].filter((t) => !this.published.has(t)));
  }

  /** Removes every entity of this camera from Home Assistant (empty retained configs). */
  async removeAll(): Promise<void> {
    const existing = await this.retainedConfigs();
    await this.remove([...new Set([...existing, ...this.published])]);
  }

  private async publishAll(): Promise<void> {
    const messages = this.messages();
    this.published = new Set(messages.map((m) => m.topic));
    for (const m of messages) {
      await this.deps.mqtt.publish(m.topic, JSON.stringify(m.payload), { absolute: true, retain: true, qos: this.deps.mqtt.qos.discovery });
    }
  }

  private async remove(topics: string[]): Promise<void> {
    for (const topic of topics) {
      this.published.delete(topic);
      await this.deps.mqtt.publish(topic, '', { absolute: true, retain: true, qos: this.deps.mqtt.qos.discovery });
    }
    if (topics.length) this.log.info({ removed: topics.length }, 'removed stale Home Assistant entities');
  }

  /**
   * This camera's discovery configs the broker holds. Retained messages arrive after SUBACK; a marker we
   * publish after subscribing arrives after them (one ordered stream per client), so we know when to stop.
   */
  private async retainedConfigs(): Promise<Set<string>> {
    const { mqtt, clock } = this.deps;
    const filter = `${this.prefix}/+/${discoveryNodeId(mqtt.baseTopic, mqtt.cameraId)}/+/config`;
    const markerTopic = `${mqtt.cameraId}/discovery/sync`;
    const nonce = randomBytes(8).toString('hex');
    const found = new Set<string>();
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => { done = resolve; });
    const onConfig = (topic: string, payload: Buffer) => {
      if (payload.length > 0 && topicMatches(filter, topic)) found.add(topic);
    };
    const onMarker = (_topic: string, payload: Buffer) => {
      if (payload.toString() === nonce) done();
    };
    const timer = clock.setTimeout(() => {
      this.log.warn('the broker did not return the discovery sync marker in time; stale entities may remain');
      done();
    }, this.options.sweepTimeoutMs ?? 3000);
    try {
      await mqtt.subscribe(markerTopic, onMarker);
      await mqtt.subscribe(filter, onConfig, { absolute: true });
      await mqtt.publish(markerTopic, nonce, { qos: 1 });
      await finished;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not read existing discovery configs');
    } finally {
      clock.clearTimeout(timer);
      await mqtt.unsubscribe(filter, onConfig, { absolute: true });
      await mqtt.unsubscribe(markerTopic, onMarker);
    }
    return found;
  }
}
