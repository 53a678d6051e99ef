/**
 * The MQTT topic table and the typed payload of each topic (DESIGN.md convention 7).
 * Callers use relative topics; `EdgecamMqtt` adds the base topic in one place.
 *
 *   <base>/status                    online | offline          retained, last will
 *   <base>/stats                     StatsPayload (JSON)
 *   <base>/<cam>/state               stable label              retained
 *   <base>/<cam>/classification      ClassificationPayload     every classified frame
 *   <base>/<cam>/event               EventPayload              stable label changed
 *   <base>/<cam>/snapshot            JPEG bytes                retained (Home Assistant image entity)
 *   <base>/<cam>/camera              CameraStatus string       retained
 *   <base>/request/<cmd>  →  <base>/response/<cmd>            see requests.ts
 */

export const STATUS_TOPIC = 'status';
export const STATS_TOPIC = 'stats';
export const ONLINE = 'online';
export const OFFLINE = 'offline';

export type CameraTopicKind = 'state' | 'classification' | 'event' | 'snapshot' | 'camera';

export function cameraTopic(cameraId: string, kind: CameraTopicKind): string {
  return `${cameraId}/${kind}`;
}

export type QoS = 0 | 1 | 2;

/** QoS per kind of message; state and events must not be lost (1), per-frame data may be (0). */
export interface QosTable {
  status: QoS;
  state: QoS;
  event: QoS;
  classification: QoS;
  snapshot: QoS;
  stats: QoS;
  camera: QoS;
  discovery: QoS;
  response: QoS;
}

export const DEFAULT_QOS: QosTable = {
  status: 1,
  state: 1,
  event: 1,
  classification: 0,
  snapshot: 0,
  stats: 0,
  camera: 1,
  discovery: 1,
  response: 1,
};

export interface ClassificationPayload {
  label: string;
  confidence: number;
  /** Every class with its probability. */
  scores: Record<string, number>;
  model: { name: string; version: string };
  /** Execution provider in use (cpu, cuda, tensorrt). */
  provider: string;
  latencyMs: number;
  /** When the frame was captured: ms since epoch or ISO 8601; published as ISO 8601. */
  frameTime: number | string;
  /** The debounced answer, when the caller has one. */
  stableLabel?: string;
  stableConfidence?: number;
}

export interface EventPayload {
  from: string;
  to: string;
  confidence: number;
  /** ms since epoch or ISO 8601; published as ISO 8601. */
  time: number | string;
}

/** Periodic figures; free-form so the daemon can add fields without touching the publisher. */
export type StatsPayload = Record<string, unknown>;

export function isoTime(time: number | string): string {
  return typeof time === 'number' ? new Date(time).toISOString() : time;
}

/**
 * MQTT topic filter matching (`+` one level, `#` the rest), used to route incoming messages to
 * the handlers that subscribed through EdgecamMqtt.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** A safe MQTT topic level / Home Assistant id from free text (`Front Door` → `front_door`). */
export function topicSafeId(text: string): string {
  const id = text.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return id.length > 0 ? id : 'x';
}
