import type { CameraStatus } from '../capture/source.js';
import type { HealthReport } from '../http/server.js';
import type { Metric } from '../http/metrics.js';
import type { PipelineCounters, LatencyWindow } from '../pipeline/stats.js';
import type { LoadedModel } from './model-reloader.js';

/** Everything stats, /metrics and /healthz report, read from the daemon in one go. */
export interface DaemonSnapshot {
  startedAt: number;
  now: number;
  counters: PipelineCounters;
  latency: { total: LatencyWindow; inference: LatencyWindow; preprocess: LatencyWindow };
  camera: { status: CameraStatus; description: string; restarts: number; lastError?: string; lastFrameAt?: number };
  model?: LoadedModel;
  stableLabel: string;
  stableConfidence: number;
  mqtt?: { connected: boolean; published: number; failed: number; reconnects: number };
  requests?: { handled: number; failed: number };
  reloads: { ok: number; failed: number };
  memory: NodeJS.MemoryUsage;
}

const round = (v: number | undefined, digits = 2): number | null => (v === undefined ? null : Number(v.toFixed(digits)));
const mb = (bytes: number): number => Number((bytes / 1048576).toFixed(1));

/** The periodic `<base>/stats` JSON. `fps` is classified frames per second since the previous stats message. */
export function statsPayload(s: DaemonSnapshot, fps: number): Record<string, unknown> {
  return {
    fps: round(fps),
    latencyMs: { p50: round(s.latency.total.percentile(50)), p99: round(s.latency.total.percentile(99)) },
    inferenceMs: { p50: round(s.latency.inference.percentile(50)), p99: round(s.latency.inference.percentile(99)) },
    preprocessMs: { p50: round(s.latency.preprocess.percentile(50)), p99: round(s.latency.preprocess.percentile(99)) },
    frames: { ...s.counters },
    drops: s.counters.dropped,
    errors: s.counters.failed,
    camera: { status: s.camera.status, restarts: s.camera.restarts },
    model: s.model ? { name: s.model.name, version: s.model.version, provider: s.model.provider } : null,
    state: s.stableLabel,
    memoryMb: { rss: mb(s.memory.rss), heapUsed: mb(s.memory.heapUsed) },
    uptimeS: Math.round((s.now - s.startedAt) / 1000),
    time: new Date(s.now).toISOString(),
  };
}

/** Healthy = the camera delivers frames and a model is loaded; otherwise 503 with one reason per problem. */
export function healthReport(s: DaemonSnapshot): HealthReport {
  const reasons: string[] = [];
  if (s.camera.status !== 'online') {
    reasons.push(`camera ${s.camera.description} is ${s.camera.status}${s.camera.lastError ? ` (last error: ${s.camera.lastError})` : ''}`);
  }
  if (!s.model) reasons.push('no model is loaded');
  return {
    healthy: reasons.length === 0,
    reasons,
    camera: s.camera.status,
    model: s.model ? { name: s.model.name, version: s.model.version, provider: s.model.provider } : null,
    mqtt: s.mqtt ? (s.mqtt.connected ? 'connected' : 'disconnected') : 'not started',
    state: s.stableLabel,
    uptimeS: Math.round((s.now - s.startedAt) / 1000),
  };
}

const gauge = (name: string, help: string, value: number, labels?: Record<string, string>): Metric =>
  ({ name, help, type: 'gauge', samples: [{ value, ...(labels ? { labels } : {}) }] });
const counter = (name: string, help: string, value: number): Metric => ({ name, help, type: 'counter', samples: [{ value }] });

/** Prometheus families for /metrics. Counters are process-lifetime totals; rates are Prometheus' job. */
export function metrics(s: DaemonSnapshot): Metric[] {
  const statuses: CameraStatus[] = ['starting', 'online', 'stalled', 'restarting', 'offline'];
  const quantiles = (name: string, help: string, w: LatencyWindow): Metric => ({
    name, help, type: 'gauge',
    samples: [50, 99].flatMap((q) => {
      const v = w.percentile(q);
      return v === undefined ? [] : [{ value: Number((v / 1000).toFixed(6)), labels: { quantile: String(q / 100) } }];
    }),
  });
  const list: Metric[] = [
    {
      name: 'edgecam_frames_total', help: 'Frames by outcome: captured, classified, dropped (backpressure), failed', type: 'counter',
      samples: (Object.keys(s.counters) as (keyof PipelineCounters)[]).map((k) => ({ value: s.counters[k], labels: { outcome: k } })),
    },
    quantiles('edgecam_latency_seconds', 'Capture-to-decision latency over the last frames', s.latency.total),
    quantiles('edgecam_inference_seconds', 'Time inside ONNX Runtime over the last frames', s.latency.inference),
    quantiles('edgecam_preprocess_seconds', 'Image decode and resize time over the last frames', s.latency.preprocess),
    {
      name: 'edgecam_camera_status', help: 'Camera status (1 for the current one)', type: 'gauge',
      samples: statuses.map((st) => ({ value: st === s.camera.status ? 1 : 0, labels: { status: st } })),
    },
    counter('edgecam_camera_restarts_total', 'Camera restarts by the watchdog', s.camera.restarts),
    gauge('edgecam_model_loaded', 'Model in service (1) with its name, version and execution provider', s.model ? 1 : 0,
      s.model ? { name: s.model.name, version: s.model.version, provider: s.model.provider } : undefined),
    {
      name: 'edgecam_model_reloads_total', help: 'Model reloads by result', type: 'counter',
      samples: [{ value: s.reloads.ok, labels: { result: 'ok' } }, { value: s.reloads.failed, labels: { result: 'failed' } }],
    },
    gauge('edgecam_state_confidence', 'Smoothed confidence of the stable label', s.stableConfidence, { label: s.stableLabel }),
    gauge('edgecam_mqtt_connected', 'MQTT connection up (1) or down (0)', s.mqtt?.connected ? 1 : 0),
    counter('edgecam_mqtt_published_total', 'MQTT messages published', s.mqtt?.published ?? 0),
    counter('edgecam_mqtt_failed_total', 'MQTT publishes that failed', s.mqtt?.failed ?? 0),
    counter('edgecam_mqtt_reconnects_total', 'MQTT reconnects', s.mqtt?.reconnects ?? 0),
    counter('edgecam_requests_total', 'MQTT requests answered successfully', s.requests?.handled ?? 0),
    counter('edgecam_requests_failed_total', 'MQTT requests answered with an error', s.requests?.failed ?? 0),
    gauge('edgecam_memory_rss_bytes', 'Resident memory', s.memory.rss),
    gauge('edgecam_memory_heap_used_bytes', 'V8 heap in use', s.memory.heapUsed),
    gauge('edgecam_uptime_seconds', 'Seconds since the daemon started', Math.round((s.now - s.startedAt) / 1000)),
  ];
  return list;
}
