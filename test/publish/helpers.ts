import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { silentLogger, type Logger } from '../../src/logger.js';
import { EdgecamMqtt, type EdgecamMqttOptions } from '../../src/publish/mqtt.js';
import { systemClock } from '../../src/types.js';

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  text: string;
}

/** A plain mqtt.js subscriber that records everything, for asserting what reached the broker. */
export interface Recorder {
  client: MqttClient;
  messages: Received[];
  on(topic: string): Received[];
  /** Resolves with the first message (from now on, or already recorded) matching; rejects after timeoutMs. */
  waitFor(predicate: (m: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
  /** Resolves once `count` messages match. */
  waitForCount(predicate: (m: Received) => boolean, count: number, what: string, timeoutMs?: number): Promise<Received[]>;
  end(): Promise<void>;
}

export async function recorder(url: string, topics: string[], options: IClientOptions = {}): Promise<Recorder> {
  const client = await connectAsync(url, { reconnectPeriod: 100, ...options });
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload, retain: packet.retain, text: payload.toString() });
    for (const w of [...waiters]) w();
  });
  client.on('error', () => { /* reconnects are part of some tests */ });
  if (topics.length) await client.subscribeAsync(topics, { qos: 1 });
  const waitForCount = (predicate: (m: Received) => boolean, count: number, what: string, timeoutMs = 5000) =>
    new Promise<Received[]>((resolve, reject) => {
      const check = () => {
        const found = messages.filter(predicate);
        if (found.length >= count) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${messages.filter(predicate).length}/${count}; topics seen: ${[...new Set(messages.map((m) => m.topic))].join(', ')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    client,
    messages,
    on: (topic) => messages.filter((m) => m.topic === topic),
    waitFor: async (predicate, what, timeoutMs) => (await waitForCount(predicate, 1, what, timeoutMs))[0]!,
    waitForCount,
    end: async () => { await client.endAsync(true); },
  };
}

export function makeMqtt(url: string, options: Partial<EdgecamMqttOptions> = {}, logger: Logger = silentLogger()): EdgecamMqtt {
  return new EdgecamMqtt(
    { connect: connectAsync, logger, clock: systemClock },
    { url, cameraId: 'door', reconnect: { initialMs: 100, maxMs: 1000 }, ...options },
  );
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when `emitter` emits `event`; rejects after timeoutMs so a test cannot hang or silently stop. */
export function nextEvent(emitter: { once(event: string, fn: () => void): unknown }, event: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, () => { clearTimeout(timer); resolve(); });
  });
}
