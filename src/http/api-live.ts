import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DaemonSnapshot } from '../daemon/telemetry.js';
import type { Decision, DecisionOptions, DecisionState } from '../postprocess/decision.js';
import type { Frame, Scores } from '../types.js';
import { imageType, sendBytes, sendJson } from './api-http.js';

/** What the daemon shows the live view: the newest camera frame and the last classification with its smoothing state. */
export interface LiveState {
  /** The newest frame from the camera (it may not be classified yet: the pipeline drops frames while busy). */
  frame: Frame | undefined;
  /** The last classified frame's raw scores. */
  result: { frameSeq: number; frameTime: number; scores: Scores; totalMs: number } | undefined;
  decision: Decision | undefined;
  decisionState: DecisionState;
  decisionOptions: DecisionOptions;
}

export interface LiveDaemon {
  snapshot(): DaemonSnapshot;
  live(): LiveState;
}

export interface ScoreRow {
  label: string;
  /** This frame's probability. */
  score: number;
  /** After smoothing (EMA score or vote-averaged probability). */
  smoothed: number;
  /** vote smoothing: frames in the window whose top label this is. */
  votes?: number;
  /** The smoothed score this class needs to become the stable label. */
  enter: number;
}

const r4 = (v: number): number => Number(v.toFixed(4));
const ms = (v: number | undefined): number | null => (v === undefined ? null : Number(v.toFixed(2)));

/**
 * Classified frames per second over the last few seconds, from the pipeline's monotonic counter sampled when the page
 * asks (nothing runs when nobody looks).
 */
export class FpsMeter {
  private samples: { at: number; count: number }[] = [];

  constructor(private readonly windowMs = 5000) {}

  sample(count: number, at: number): number | null {
    this.samples.push({ at, count });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= this.windowMs) this.samples.shift();
    if (this.samples.length > 64) this.samples.splice(1, this.samples.length - 64);
    const first = this.samples[0]!;
    if (at - first.at < 500) return null;
    return Number((((count - first.count) * 1000) / (at - first.at)).toFixed(2));
  }
}

/** The JSON behind the live view (GET /api/live). Pure: everything comes from the daemon's snapshot and live state. */
export function livePayload(s: DaemonSnapshot, live: LiveState, fps: number | null): Record<string, unknown> {
  const o = live.decisionOptions;
  const d = live.decision;
  const labels = s.model?.labels ?? live.result?.scores.labels ?? [];
  const votes: Record<string, number> = {};
  for (const f of live.decisionState.window) votes[f.label] = (votes[f.label] ?? 0) + 1;
  const scores: ScoreRow[] = labels.map((label) => {
    const i = live.result?.scores.labels.indexOf(label) ?? -1;
    return {
      label, score: r4(i >= 0 ? live.result!.scores.probabilities[i]! : 0), smoothed: r4(d?.smoothed[label] ?? 0),
      ...(o.smoothing.method === 'vote' ? { votes: votes[label] ?? 0 } : {}),
      enter: Math.max(o.thresholds[label] ?? o.hysteresis.enter, o.minConfidence),
    };
  });
  const candidate = live.decisionState.candidate;
  return {
    now: s.now,
    frame: live.frame ? { id: frameId(live.frame), seq: live.frame.seq, time: live.frame.timestamp, ...(live.frame.origin ? { origin: live.frame.origin.split('/').pop() } : {}) } : null,
    classified: live.result && d ? {
      seq: live.result.frameSeq, time: live.result.frameTime, label: d.label, confidence: r4(d.confidence), latencyMs: ms(live.result.totalMs),
    } : null,
    stable: {
      label: s.stableLabel, confidence: r4(s.stableConfidence),
      candidate: candidate ? { label: candidate.label, heldMs: Math.max(0, s.now - candidate.sinceMs), needMs: o.minDwellMs } : null,
    },
    scores,
    smoothing: {
      ...o.smoothing, enter: o.hysteresis.enter, exit: o.hysteresis.exit, minConfidence: o.minConfidence, minDwellMs: o.minDwellMs,
      thresholds: o.thresholds, framesInWindow: live.decisionState.window.length,
    },
    model: s.model ? { name: s.model.name, version: s.model.version, provider: s.model.provider, labels: s.model.labels } : null,
    fps,
    latencyMs: { p50: ms(s.latency.total.percentile(50)), p99: ms(s.latency.total.percentile(99)) },
    inferenceMs: { p50: ms(s.latency.inference.percentile(50)), p99: ms(s.latency.inference.percentile(99)) },
    preprocessMs: { p50: ms(s.latency.preprocess.percentile(50)), p99: ms(s.latency.preprocess.percentile(99)) },
    counters: { ...s.counters },
    camera: { status: s.camera.status, description: s.camera.description, restarts: s.camera.restarts, ...(s.camera.lastError ? { lastError: s.camera.lastError } : {}) },
    mqtt: s.mqtt ? { connected: s.mqtt.connected } : null,
    uptimeS: Math.round((s.now - s.startedAt) / 1000),
  };
}

/** A frame's identity across camera restarts (seq alone restarts from 0). */
export function frameId(frame: Frame): string {
  return `${frame.timestamp}-${frame.seq}`;
}

/**
 * GET /api/frame: the newest frame's bytes as the camera sent them (no re-encoding, so it costs the pipeline nothing
 * but a socket write). ETag = frame id, so a poll that finds the same frame gets a 304 without a body.
 */
export function sendLatestFrame(req: IncomingMessage, res: ServerResponse, frame: Frame | undefined): void {
  if (!frame) {
    sendJson(res, 404, { error: 'No frame has arrived from the camera yet; check the camera status on the live view.' });
    return;
  }
  const etag = `"${frameId(frame)}"`;
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': 'no-cache' });
    res.end();
    return;
  }
  sendBytes(res, imageType(frame.data), frame.data, { etag, 'cache-control': 'no-cache', 'x-frame-id': frameId(frame) });
}
