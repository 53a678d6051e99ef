import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { createWatchedSource, type CaptureDeps } from '../../src/capture/create.js';
import type { CameraStatus, CaptureEvents } from '../../src/capture/source.js';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { Daemon, type WatchedCamera } from '../../src/daemon.js';
import { createClassifier } from '../../src/inference/engine.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import type { MqttConnect } from '../../src/publish/mqtt.js';
import { systemClock, type Frame } from '../../src/types.js';

/**
 * The daemon as src/main.ts createDaemon composes it (real ONNX Runtime, sharp, mqtt.js, capture watchdog), with two
 * seams the fault tests need: the camera (a real ffmpeg/folder source, or a hand-fed one standing in for a camera
 * device) and a look at every message the daemon hands to mqtt.js.
 */

export interface Published { topic: string; payload: string; at: number }

export interface HarnessOptions {
  config: ConfigInput;
  /** Default: the configured source in the capture watchdog (extra CaptureDeps such as spawn can be given). */
  camera?: () => WatchedCamera;
  captureDeps?: Partial<CaptureDeps>;
  logger?: Logger;
}

export interface Harness {
  daemon: Daemon;
  config: Config;
  /** Every publish the daemon asked mqtt.js for, in order (whether or not the broker was reachable). */
  published: Published[];
}

export function buildDaemon(options: HarnessOptions): Harness {
  const config = configSchema.parse(options.config);
  const logger = options.logger ?? createLogger({ level: 'silent', destination: new PassThrough(), pretty: false });
  const published: Published[] = [];
  const connect: MqttConnect = async (url: string, clientOptions: IClientOptions): Promise<MqttClient> => {
    const client = await connectAsync(url, clientOptions);
    const publishAsync = client.publishAsync.bind(client);
    client.publishAsync = ((topic: string, message: string | Buffer, opts?: Parameters<MqttClient['publishAsync']>[2]) => {
      published.push({ topic, payload: message.toString(), at: Date.now() });
      return publishAsync(topic, message, opts);
    }) as MqttClient['publishAsync'];
    return client;
  };
  const c = config.camera;
  const daemon = new Daemon({
    logger, clock: systemClock, version: 'test',
    mqttConnect: connect,
    createCamera: options.camera ?? (() => createWatchedSource({ logger, clock: systemClock, ...options.captureDeps }, c.source,
      { fps: c.fps, width: c.width, height: c.height, loop: c.loop }, { stallTimeoutMs: c.stallTimeout * 1000 })),
    loadClassifier: async (dir) => createClassifier({ logger }, { folder: await loadModelFolder(dir), providers: ['cpu'], intraOpThreads: 1 }),
    preprocess: preprocessImage,
  }, { config, modelDir: config.model.dir! });
  return { daemon, config, published };
}

/** A camera whose frames the test hands in (for input no real camera produces on demand: 1,000 broken images). */
export class HandFedCamera extends EventEmitter<CaptureEvents> implements WatchedCamera {
  readonly description = 'test:hand-fed';
  readonly restarts = 0;
  status: CameraStatus = 'offline';
  private seq = 0;

  async start(): Promise<void> {
    this.status = 'online';
    this.emit('status', 'online');
  }

  async stop(): Promise<void> {
    this.status = 'offline';
  }

  feed(data: Buffer): Frame {
    const frame: Frame = { data, timestamp: Date.now(), seq: this.seq++, origin: this.description };
    this.emit('frame', frame);
    return frame;
  }
}

/** Polls until `cond` holds; rejects naming `what` after `ms` (a bound on the test, not a timing assertion). */
export async function waitUntil(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Collects log lines (JSON) written by a real pino logger, to grep them. */
export function capturedLogger(level = 'debug'): { logger: Logger; text: () => string } {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => { text += d.toString(); });
  return { logger: createLogger({ level, destination: sink, pretty: false }), text: () => text };
}
