import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { CameraStatus } from '../capture/source.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Clock, Component } from '../types.js';
import { classifyMqttError, loadTlsMaterial, redactUrl, type TlsSettings } from './mqtt-errors.js';
import {
  DEFAULT_QOS, OFFLINE, ONLINE, STATS_TOPIC, STATUS_TOPIC, cameraTopic, classificationJson, isoTime, topicMatches,
  type ClassificationPayload, type EventPayload, type QoS, type QosTable, type StatsPayload,
} from './topics.js';

/** `mqtt.connectAsync` or anything shaped like it (tests may wrap it). */
export type MqttConnect = (url: string, options: IClientOptions) => Promise<MqttClient>;

export interface EdgecamMqttDeps {
  connect: MqttConnect;
  logger: Logger;
  clock: Clock;
  /** Reads TLS files; defaults to fs.readFile. */
  readFile?: (file: string) => Promise<Buffer>;
}

export interface EdgecamMqttOptions {
  url: string;
  baseTopic?: string;
  cameraId: string;
  clientId?: string;
  username?: string;
  password?: string;
  tls?: TlsSettings;
  qos?: Partial<QosTable>;
  /** Seconds between pings; the broker declares us dead (last will) after 1.5× this. */
  keepalive?: number;
  /** Reconnect delay: starts at initialMs, multiplied by factor after each failed attempt, capped at maxMs. */
  reconnect?: { initialMs?: number; maxMs?: number; factor?: number };
  connectTimeoutMs?: number;
  /** How long stop() waits for `offline` to be acknowledged. */
  stopTimeoutMs?: number;
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  /** The topic is already absolute (e.g. `homeassistant/...`): do not add the base topic. */
  absolute?: boolean;
}

export type MessageHandler = (topic: string, payload: Buffer) => void | Promise<void>;

/** What discovery and the request router need from the connection (tests can implement it). */
export interface MqttBus {
  readonly baseTopic: string;
  readonly cameraId: string;
  readonly qos: QosTable;
  /** `state` → `edgecam/state`; the one place where the base topic is added. */
  topic(relative: string): string;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<boolean>;
  subscribe(topic: string, handler: MessageHandler, options?: { absolute?: boolean; qos?: QoS }): Promise<void>;
  unsubscribe(topic: string, handler: MessageHandler, options?: { absolute?: boolean }): Promise<void>;
  on(event: 'reconnected', listener: () => void): unknown;
  off(event: 'reconnected', listener: () => void): unknown;
}

export interface MqttCounters {
  published: number;
  failed: number;
  /** QoS 0 messages not sent because the connection was down (they would queue without bound). */
  droppedOffline: number;
  reconnects: number;
  connected: boolean;
}

/**
 * The MQTT connection of one edgecam instance (after Zigbee2MQTT lib/mqtt.ts): availability with a
 * retained last will, typed publishers per topic, and republishing of what must survive a broker restart.
 * Publishing never throws: failures are counted and logged, and the promise resolves false.
 */
export class EdgecamMqtt extends EventEmitter<{ reconnected: []; connectionLost: [] }> implements Component, MqttBus {
  readonly baseTopic: string;
  readonly cameraId: string;
  readonly qos: QosTable;
  private client: MqttClient | undefined;
  private stopping = false;
  private lastState: string | undefined;
  private lastCameraStatus: CameraStatus | undefined;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private readonly counters: MqttCounters = { published: 0, failed: 0, droppedOffline: 0, reconnects: 0, connected: false };
  private readonly log: Logger;
  private readonly where: string;

  constructor(private readonly deps: EdgecamMqttDeps, private readonly options: EdgecamMqttOptions) {
    super();
    this.baseTopic = (options.baseTopic ?? 'edgecam').replace(/\/+$/, '');
    this.cameraId = options.cameraId;
    this.qos = { ...DEFAULT_QOS, ...options.qos };
    this.log = deps.logger.child({ component: 'mqtt' });
    this.where = redactUrl(options.url);
  }

  topic(relative: string): string {
    return `${this.baseTopic}/${relative}`;
  }

  async start(): Promise<void> {
    if (this.client) return;
    this.stopping = false;
    const clientOptions = await this.clientOptions();
    let client: MqttClient;
    try {
      client = await this.deps.connect(this.options.url, clientOptions);
    } catch (err) {
      const classified = classifyMqttError(err, this.where);
      this.log.error({ code: classified.code, url: this.where }, classified.message);
      throw classified;
    }
    this.client = client;
    this.counters.connected = true;
    this.setNoDelay(client);
    this.watch(client);
    this.log.info({ url: this.where, clientId: clientOptions.clientId }, 'connected to MQTT broker');
    // Handlers registered before start() (e.g. by components built earlier) are subscribed now.
    for (const topic of this.handlers.keys()) await client.subscribeAsync(topic, { qos: 1 });
    await this.publish(STATUS_TOPIC, ONLINE, { qos: this.qos.status, retain: true });
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    this.client = undefined;
    this.counters.connected = false;
    if (client.connected) {
      // Say goodbye ourselves: the last will only fires on an unclean disconnect.
      await this.withTimeout(client.publishAsync(this.topic(STATUS_TOPIC), OFFLINE, { qos: this.qos.status, retain: true }), this.options.stopTimeoutMs ?? 2000)
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'could not publish offline before disconnecting'));
    }
    await this.withTimeout(client.endAsync(!client.connected), this.options.stopTimeoutMs ?? 2000)
      .catch(() => client.end(true));
    client.removeAllListeners();
    this.log.info('disconnected from MQTT broker');
  }

  get isConnected(): boolean {
    return this.client?.connected === true;
  }

  stats(): MqttCounters {
    return { ...this.counters, connected: this.isConnected };
  }

  /** Publishes to a relative topic (or an absolute one with `absolute: true`). Resolves true once sent/acknowledged. */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<boolean> {
    const client = this.client;
    const qos = options.qos ?? 0;
    const full = options.absolute ? topic : this.topic(topic);
    if (!client) {
      this.counters.failed++;
      this.log.debug({ topic: full }, 'publish before start() or after stop(): dropped');
      return false;
    }
    if (qos === 0 && !client.connected) {
      this.counters.droppedOffline++;
      return false;
    }
    try {
      // QoS ≥ 1 while offline is queued by mqtt.js and flushed on reconnect (FIELD-NOTES).
      await client.publishAsync(full, payload, { qos, retain: options.retain ?? false });
      this.counters.published++;
      return true;
    } catch (err) {
      this.counters.failed++;
      this.log.warn({ topic: full, err: errorMessage(err) }, 'publish failed');
      return false;
    }
  }

  async publishState(label: string): Promise<boolean> {
    this.lastState = label;
    return this.publish(cameraTopic(this.cameraId, 'state'), label, { qos: this.qos.state, retain: true });
  }

  async publishClassification(payload: ClassificationPayload): Promise<boolean> {
    return this.publish(cameraTopic(this.cameraId, 'classification'), classificationJson(payload), { qos: this.qos.classification });
  }

  async publishEvent(event: EventPayload): Promise<boolean> {
    const body = { ...event, time: isoTime(event.time) };
    return this.publish(cameraTopic(this.cameraId, 'event'), JSON.stringify(body), { qos: this.qos.event });
  }

  /** JPEG bytes of the frame that changed the label; retained so Home Assistant shows it after a restart. */
  async publishSnapshot(jpeg: Buffer): Promise<boolean> {
    return this.publish(cameraTopic(this.cameraId, 'snapshot'), jpeg, { qos: this.qos.snapshot, retain: true });
  }

  async publishStats(stats: StatsPayload): Promise<boolean> {
    return this.publish(STATS_TOPIC, JSON.stringify(stats), { qos: this.qos.stats });
  }

  async publishCameraStatus(status: CameraStatus): Promise<boolean> {
    this.lastCameraStatus = status;
    return this.publish(cameraTopic(this.cameraId, 'camera'), status, { qos: this.qos.camera, retain: true });
  }

  async subscribe(topic: string, handler: MessageHandler, options: { absolute?: boolean; qos?: QoS } = {}): Promise<void> {
    const full = options.absolute ? topic : this.topic(topic);
    const set = this.handlers.get(full) ?? new Set();
    set.add(handler);
    this.handlers.set(full, set);
    if (set.size === 1 && this.client) {
      await this.client.subscribeAsync(full, { qos: options.qos ?? 1 });
    }
  }

  async unsubscribe(topic: string, handler: MessageHandler, options: { absolute?: boolean } = {}): Promise<void> {
    const full = options.absolute ? topic : this.topic(topic);
    const set = this.handlers.get(full);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(full);
    if (this.client?.connected) {
      await this.client.unsubscribeAsync(full).catch((err: unknown) => this.log.debug({ err: errorMessage(err) }, 'unsubscribe failed'));
    }
  }

  private async clientOptions(): Promise<IClientOptions> {
    const o = this.options;
    const options: IClientOptions = {
      clientId: o.clientId ?? `edgecam_${this.cameraId}_${randomBytes(4).toString('hex')}`,
      clean: true,
      keepalive: o.keepalive ?? 30,
      protocolVersion: 4,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      reconnectPeriod: o.reconnect?.initialMs ?? 1000,
      // Per-frame messages must not pile up in memory during a long outage; QoS ≥ 1 still queues.
      queueQoSZero: false,
      // A broker that refuses us later (ACL reload, restart with a half-written password file) is retried with
      // backoff instead of leaving a daemon that runs for months silently disconnected. start() still fails fast.
      reconnectOnConnackError: true,
      will: { topic: this.topic(STATUS_TOPIC), payload: Buffer.from(OFFLINE), qos: this.qos.status, retain: true },
    };
    if (o.username !== undefined) options.username = o.username;
    if (o.password !== undefined) options.password = o.password;
    if (o.tls) {
      const protocol = o.url.split(':')[0];
      if (protocol !== 'mqtts' && protocol !== 'wss') {
        this.log.warn({ url: this.where }, 'mqtt.tls is set but the URL is not mqtts:// or wss://, so TLS is not used');
      }
      Object.assign(options, await loadTlsMaterial(o.tls, this.deps.readFile));
    }
    return options;
  }

  private watch(client: MqttClient): void {
    const initialMs = this.options.reconnect?.initialMs ?? 1000;
    const maxMs = this.options.reconnect?.maxMs ?? 30_000;
    const factor = this.options.reconnect?.factor ?? 2;
    client.on('connect', () => {
      // Every (re)connect; the first one was handled by start().
      client.options.reconnectPeriod = initialMs;
      this.counters.reconnects++;
      this.setNoDelay(client);
      this.log.info({ url: this.where }, 'reconnected to MQTT broker');
      void this.republish();
    });
    client.on('reconnect', () => {
      // mqtt.js retries at a fixed period; growing it before each attempt gives the next wait a backoff.
      const current = client.options.reconnectPeriod ?? initialMs;
      client.options.reconnectPeriod = Math.min(maxMs, Math.round(current * factor));
    });
    client.on('offline', () => {
      if (this.stopping) return;
      this.log.warn({ url: this.where }, 'lost the MQTT broker; reconnecting with backoff');
      this.emit('connectionLost');
    });
    client.on('error', (err) => {
      const classified = classifyMqttError(err, this.where);
      this.log.error({ code: classified.code }, classified.message);
    });
    client.on('message', (topic, payload) => this.dispatch(topic, payload));
  }

  private async republish(): Promise<void> {
    await this.publish(STATUS_TOPIC, ONLINE, { qos: this.qos.status, retain: true });
    // A broker without persistence forgot our retained messages when it restarted.
    if (this.lastState !== undefined) await this.publishState(this.lastState);
    if (this.lastCameraStatus !== undefined) await this.publishCameraStatus(this.lastCameraStatus);
    this.emit('reconnected');
  }

  private dispatch(topic: string, payload: Buffer): void {
    for (const [filter, set] of this.handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of set) {
        try {
          Promise.resolve(handler(topic, payload)).catch((err: unknown) => this.log.error({ topic, err: errorMessage(err) }, 'message handler failed'));
        } catch (err) {
          this.log.error({ topic, err: errorMessage(err) }, 'message handler failed');
        }
      }
    }
  }

  private setNoDelay(client: MqttClient): void {
    // Nagle's algorithm adds ~40-90 ms to small QoS 1 round trips (FIELD-NOTES).
    (client.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
  }

  private withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.deps.clock.setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      promise.then(
        (v) => { this.deps.clock.clearTimeout(timer); resolve(v); },
        (e: unknown) => { this.deps.clock.clearTimeout(timer); reject(e); },
      );
    });
  }
}
