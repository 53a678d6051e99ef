import { performance } from 'node:perf_hooks';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { MqttConnect } from '../publish/mqtt.js';
import type { Clock } from '../types.js';

/**
 * Times each frame from its arrival at the daemon to the broker's PUBACK of its classification message.
 *
 * Frames are matched to messages by their capture timestamp (the classification payload carries it as
 * `frameTime`), so the camera is given a clock whose ms readings never repeat ({@link uniqueMsClock}); at the bench's
 * few hundred frames per second that clock never runs ahead of real time by more than a few ms.
 * Classifications are published at QoS 1 during the bench (production default: 0) so there is an acknowledgement
 * to wait for; that is more work for the pipeline than production does, never less.
 */
export class LatencyProbe {
  /** Arrival time (performance.now) per frame timestamp; frames dropped by backpressure are pruned. */
  private readonly arrivals = new Map<number, number>();
  private latencies: number[] = [];
  private acked = 0;

  /** Record a frame's arrival: call from a 'frame' listener registered before the daemon's own. */
  frameArrived(timestamp: number): void {
    this.arrivals.set(timestamp, performance.now());
  }

  /** Frames acknowledged so far (all time). */
  get acknowledged(): number {
    return this.acked;
  }

  /** Latencies collected since the last call, and forget them (the bench reads per window). */
  takeLatencies(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }

  /** Forget arrivals older than `maxAgeMs` (frames that were dropped and will never be published). */
  prune(maxAgeMs = 5000): void {
    const cutoff = performance.now() - maxAgeMs;
    for (const [ts, at] of this.arrivals) {
      if (at < cutoff) this.arrivals.delete(ts);
    }
  }

  /** Wraps an MqttConnect so that classification publishes are QoS 1 and their PUBACKs timed. */
  wrapConnect(connect: MqttConnect): MqttConnect {
    return async (url: string, options: IClientOptions): Promise<MqttClient> => {
      const client = await connect(url, options);
      const publishAsync = client.publishAsync.bind(client);
      client.publishAsync = (async (topic: string, message: string | Buffer, opts?: Parameters<MqttClient['publishAsync']>[2]) => {
        if (!topic.endsWith('/classification') || typeof message !== 'string') return publishAsync(topic, message, opts);
        const ts = frameTimeOf(message);
        const arrived = ts === undefined ? undefined : this.arrivals.get(ts);
        if (ts !== undefined) this.arrivals.delete(ts);
        const result = await publishAsync(topic, message, { ...opts, qos: 1 });
        this.acked += 1;
        if (arrived !== undefined) this.latencies.push(performance.now() - arrived);
        return result;
      }) as MqttClient['publishAsync'];
      return client;
    };
  }
}

/** The `frameTime` of a classification payload as ms since epoch, found without parsing 1000 scores. */
export function frameTimeOf(payload: string): number | undefined {
  const key = '"frameTime":"';
  const at = payload.lastIndexOf(key);
  if (at < 0) return undefined;
  const end = payload.indexOf('"', at + key.length);
  const ms = Date.parse(payload.slice(at + key.length, end));
  return Number.isFinite(ms) ? ms : undefined;
}

/** A clock whose now() is strictly increasing in whole ms (never the same reading twice). */
export function uniqueMsClock(base: Clock): Clock {
  let last = 0;
  return {
    ...base,
    now: () => {
      const t = base.now();
      last = t > last ? t : last + 1;
      return last;
    },
  };
}
