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

/** Per-class scores in model order, as the classifier returns them. */
export interface ScoreList {
  labels: readonly string[];
  probabilities: ArrayLike<number>;
}

export interface ClassificationPayload {
  label: string;
  confidence: number;
  /**
   * Every class with its probability; published as a `{ label: probability }` object either way. A ScoreList is
   * written with 4 decimals straight into the JSON (what the daemon sends every frame: cheap with 1000 classes).
   */
  scores: Record<string, number> | ScoreList;
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

/**
 * The classification topic's JSON. With a ScoreList, `scores` is written from cached `"label":` prefixes: building
 * and JSON.stringify-ing a 1000-key object cost ~5 ms per frame, this ~0.2 ms.
 */
export function classificationJson(payload: ClassificationPayload): string {
  const { scores, ...rest } = payload;
  if (!isScoreList(scores)) return JSON.stringify({ ...payload, frameTime: isoTime(payload.frameTime) });
  // Spreading keeps the caller's key order, with frameTime in its place.
  const { label, confidence, ...tail } = { ...rest, frameTime: isoTime(rest.frameTime) };
  const after = JSON.stringify(tail);
  const head = `{"label":${JSON.stringify(label)},"confidence":${JSON.stringify(confidence)},"scores":`;
  return `${head}${scoresJson(scores)}${after === '{}' ? '}' : ',' + after.slice(1)}`;
}

function isScoreList(scores: ClassificationPayload['scores']): scores is ScoreList {
  return Array.isArray((scores as ScoreList).labels) && typeof (scores as ScoreList).probabilities === 'object';
}

/** `"label":` per label, per label list (models keep their list for their lifetime; weak so swapped models go). */
const keyPrefixes = new WeakMap<readonly string[], string[]>();

function scoresJson({ labels, probabilities }: ScoreList): string {
  let prefixes = keyPrefixes.get(labels);
  if (!prefixes || prefixes.length !== labels.length) {
    prefixes = labels.map((l) => `${JSON.stringify(l)}:`);
    keyPrefixes.set(labels, prefixes);
  }
  const digits = (fourDecimals ??= Array.from({ length: 10001 }, (_, n) => String(n / 1e4)));
  let out = '{';
  for (let i = 0; i < labels.length; i++) {
    // Same figure as Number(p.toFixed(4)) for probabilities (non-negative); NaN/Infinity become null like JSON.stringify.
    const n = Math.round(Number(probabilities[i]) * 1e4);
    const text = n >= 0 && n <= 10000 ? digits[n] : Number.isFinite(n) ? String(n / 1e4) : 'null';
    out += `${i ? ',' : ''}${prefixes[i]}${text}`;
  }
  return out + '}';
}

/** "0", "0.0001" … "1": a probability's text with 4 decimals, looked up instead of formatted 1000 times a frame. */
let fourDecimals: string[] | undefined;

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
