import { z } from 'zod';

/**
 * The one configuration schema: types, defaults and validation come from here, and so do the
 * environment variable names (src/config/env.ts walks this tree) and the key table in README-keys.md.
 * Every object is strict so a typo in edgecam.yaml is reported with its key instead of being ignored.
 * Sections use `.prefault({})` (not `.default({})`) so their inner defaults are applied when a section is absent.
 */

const port = z.number().int().min(0).max(65535);
const probability = z.number().min(0).max(1);

export const SOURCE_KINDS = ['folder', 'ffmpeg', 'webcam', 'snapshot'] as const;
const sourceSpec = z.string().regex(new RegExp(`^(${SOURCE_KINDS.join('|')}):.+`), {
  message: `must look like ${SOURCE_KINDS.map((k) => `${k}:<…>`).join(' | ')}, e.g. folder:samples or ffmpeg:/dev/video0`,
});

export const cameraSchema = z.object({
  source: sourceSpec.default('folder:samples').describe('Where frames come from: folder:<dir> | ffmpeg:<input> (V4L2 device, rtsp://, http:// MJPEG) | webcam:<device> | snapshot:<url>'),
  fps: z.number().positive().max(60).default(2).describe('Frames per second asked of the source'),
  width: z.number().int().positive().default(640).describe('Frame width asked of the source (ffmpeg, webcam)'),
  height: z.number().int().positive().default(480).describe('Frame height asked of the source (ffmpeg, webcam)'),
  stallTimeout: z.number().positive().default(5).describe('Seconds without a frame before the watchdog restarts the source'),
  loop: z.boolean().default(true).describe('folder: replay the images forever (false: once)'),
}).strict();

export const PROVIDERS = ['tensorrt', 'cuda', 'cpu'] as const;
export const modelSchema = z.object({
  dir: z.string().min(1).optional().describe('Model folder (manifest.json + model.onnx); unset: models/active, else the bundled models/pets-cnn'),
  providers: z.array(z.enum(PROVIDERS)).min(1).default(['cuda', 'cpu']).describe('Execution providers tried in order; each failure is logged'),
  intraOpThreads: z.number().int().min(1).max(64).default(1).describe('ONNX Runtime intra-op threads'),
  inferenceThread: z.enum(['worker', 'main']).default('worker').describe('Where ONNX Runtime runs: worker = its own thread, so decoding the next frame overlaps inference (measured 81 vs 49 frames/s with MobileNetV2 on 2 cores); main = the event-loop thread (about 30 MB less memory)'),
  tensorrtCacheDir: z.string().min(1).default('data/tensorrt-cache').describe('Where TensorRT keeps built engines (only with the tensorrt provider)'),
  watch: z.boolean().default(true).describe('Reload the model when its folder (or the models/active link) changes'),
}).strict();

/** Flat on purpose (one env variable per key); decisionOptionsOf() maps it onto postprocess/decision.ts options. */
export const decisionSchema = z.object({
  minConfidence: probability.default(0.5).describe('Below this top score a frame counts as `unknown`'),
  thresholds: z.record(z.string().min(1), probability).default({}).describe('Per-class enter threshold overriding `enter`, e.g. {cat: 0.8}'),
  smoothing: z.enum(['vote', 'ema']).default('vote').describe('vote: N of the last M frames agree; ema: exponential moving average of scores'),
  window: z.number().int().min(1).max(1000).default(5).describe('vote: M, frames looked at'),
  votes: z.number().int().min(1).max(1000).default(3).describe('vote: N, frames whose top label must agree'),
  emaAlpha: z.number().gt(0).max(1).default(0.4).describe('ema: weight of the newest frame (1 = no smoothing)'),
  enter: probability.default(0.7).describe('Smoothed score a class needs to become the stable label (hysteresis upper edge)'),
  exit: probability.default(0.5).describe('The stable label is kept while its smoothed score stays at or above this (hysteresis lower edge)'),
  minDwellMs: z.number().int().min(0).default(1000).describe('A new label must hold this long (ms) before it becomes the stable label'),
}).strict().superRefine((d, ctx) => {
  if (d.votes > d.window) ctx.addIssue({ code: 'custom', path: ['votes'], message: `votes (${d.votes}) cannot exceed window (${d.window})` });
  if (d.exit > d.enter) ctx.addIssue({ code: 'custom', path: ['exit'], message: `exit (${d.exit}) must be ≤ enter (${d.enter})` });
});

export const mqttSchema = z.object({
  url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\/.+/, { message: 'must be a broker URL like mqtt://host:1883 or mqtts://host:8883' }).optional()
    .describe('Broker URL; unset: start an embedded broker on embeddedPort (localhost only)'),
  embeddedPort: port.default(1884).describe('Port of the embedded broker when url is unset (1883 is usually taken by Mosquitto)'),
  embeddedHost: z.string().min(1).default('127.0.0.1').describe('Address the embedded broker listens on'),
  baseTopic: z.string().min(1).regex(/^[^#+]+$/, { message: 'may not contain MQTT wildcards # or +' }).default('edgecam').describe('Prefix of every edgecam topic'),
  cameraId: z.string().min(1).regex(/^[A-Za-z0-9_-]+$/, { message: 'letters, digits, _ and - only (it becomes a topic level and a Home Assistant id)' }).default('door').describe('This camera\'s id: topics are <baseTopic>/<cameraId>/…'),
  clientId: z.string().min(1).optional().describe('MQTT client id; unset: edgecam-<cameraId>'),
  username: z.string().optional().describe('Broker user name'),
  password: z.string().optional().describe('Broker password (redacted in `config print` and logs)'),
  tls: z.object({
    ca: z.string().optional().describe('CA certificate file (PEM)'),
    cert: z.string().optional().describe('Client certificate file (PEM)'),
    key: z.string().optional().describe('Client key file (PEM; redacted)'),
    rejectUnauthorized: z.boolean().default(true).describe('Verify the broker certificate'),
  }).strict().prefault({}),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1).describe('QoS for state, events and responses (classification and stats use 0)'),
  snapshots: z.boolean().default(true).describe('Publish the JPEG that changed the label on <cameraId>/snapshot'),
  statsInterval: z.number().positive().default(30).describe('Seconds between stats messages'),
  discovery: z.object({
    enabled: z.boolean().default(true).describe('Publish Home Assistant MQTT discovery'),
    prefix: z.string().min(1).default('homeassistant').describe('Home Assistant discovery prefix'),
  }).strict().prefault({}),
}).strict();

export const httpSchema = z.object({
  enabled: z.boolean().default(true).describe('Serve /healthz and /metrics'),
  host: z.string().min(1).default('127.0.0.1').describe('Address to listen on (0.0.0.0 for the whole network)'),
  port: port.default(8765).describe('Port to listen on (0: any free port)'),
  ui: z.boolean().default(true).describe('Serve the web page (live view, labelling, models) at / with its /api'),
  auth: z.string().min(8, { message: 'must be at least 8 characters (it guards labelling and model switching)' }).optional()
    .describe('Password or token for the web page (HTTP Basic password or Bearer token); unset: the page answers only requests from this machine'),
}).strict();

export const collectSchema = z.object({
  enabled: z.boolean().default(false).describe('Keep frames for the learning loop automatically'),
  dir: z.string().min(1).default('data/collect').describe('Where captured frames and their sidecar JSON go'),
  maxFiles: z.number().int().positive().default(5000).describe('Stop collecting beyond this many images'),
  maxMegabytes: z.number().positive().default(1024).describe('Stop collecting beyond this many megabytes'),
  lowConfidence: probability.default(0.6).describe('Keep frames whose top score is below this (0: never)'),
  onChange: z.boolean().default(true).describe('Keep the frame that changed the stable label'),
  sampleInterval: z.number().min(0).default(600).describe('Keep one frame every this many seconds (0: no periodic sample)'),
  duplicateThreshold: z.number().min(0).max(255).default(3).describe('Skip a frame whose 8×8 grey thumbnail differs from the last kept one by less than this (mean, 0..255; 0: keep all)'),
}).strict();

export const finetuneSchema = z.object({
  holdout: z.number().gt(0).lt(1).default(0.2).describe('Share of labelled frames held back for the evaluation gate (fixed per frame)'),
  margin: z.number().gt(-1).lt(1).default(0).describe('A fine-tuned model goes live only if its holdout accuracy is ≥ the current model\'s + margin'),
  epochs: z.number().int().min(1).max(1000).default(40).describe('Training epochs of the new head'),
  lr: z.number().gt(0).max(1).default(0.001).describe('Adam learning rate of the new head'),
  weightDecay: z.number().min(0).max(10).default(0.1).describe('L2 weight decay of the new head (0: off)'),
  mirror: z.boolean().default(true).describe('Also train on the left-right mirror of every training frame (not of held-back frames); skipped when the backbone has test-time views'),
  nice: z.number().int().min(0).max(19).default(19).describe('CPU priority of the fine-tune process (19: lowest; classification goes first)'),
}).strict();

export const updateSchema = z.object({
  publicKey: z.string().min(1).optional().describe('ed25519 public key (PEM file) that model updates must be signed with'),
  watchSeconds: z.number().min(0).default(30).describe('After installing a model, watch the daemon\'s /healthz this long and roll back if it fails'),
}).strict();

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const logSchema = z.object({
  level: z.enum(LOG_LEVELS).default('info').describe('Log level'),
  decisions: z.boolean().optional().describe('Print each decision to the console; unset: on when running the embedded default broker'),
}).strict();

export const configSchema = z.object({
  camera: cameraSchema.prefault({}),
  model: modelSchema.prefault({}),
  decision: decisionSchema.prefault({}),
  mqtt: mqttSchema.prefault({}),
  http: httpSchema.prefault({}),
  collect: collectSchema.prefault({}),
  finetune: finetuneSchema.prefault({}),
  update: updateSchema.prefault({}),
  log: logSchema.prefault({}),
}).strict();

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** Keys whose values never leave the process in clear (config print, logs, status responses). */
export const SECRET_KEYS: readonly string[] = ['mqtt.password', 'mqtt.tls.key', 'http.auth'];
