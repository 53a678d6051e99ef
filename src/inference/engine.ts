import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { EdgecamError, ModelError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ModelFolder } from '../models/folder.js';
import type { Manifest } from '../models/manifest.js';
import { outputLooksLikeLogits, toProbabilities } from '../postprocess/scores.js';
import type { Tensor } from '../types.js';
import { createOrtSession, sessionOptionsFor, tensorrtCacheEnv } from './session.js';
import type { Classification, Classifier, ExecutionProvider, OrtTensorLike, SessionFactory, SessionLike } from './types.js';

/**
 * A model folder on ONNX Runtime: tries execution providers in order (DESIGN.md convention 6), warms the session
 * up, checks every input against the manifest, and maps outputs to probabilities (+ embedding) per the manifest.
 */

export const DEFAULT_PROVIDERS: readonly ExecutionProvider[] = ['cuda', 'cpu'];

export interface ClassifierDeps {
  logger: Logger;
  /** Default: onnxruntime-node InferenceSession.create (createOrtSession). */
  sessionFactory?: SessionFactory;
  /** Time source for latency, in ms (default performance.now: monotonic, sub-millisecond). */
  clock?: { now(): number };
  /** Where the TensorRT cache variables are set (default process.env, which the native provider reads). */
  env?: Record<string, string | undefined>;
}

export interface ClassifierOptions {
  folder: ModelFolder;
  /** Tried in order; the first whose session loads and runs the warm-up wins. Default ['cuda', 'cpu']. */
  providers?: readonly ExecutionProvider[];
  intraOpThreads?: number;
  interOpThreads?: number;
  /** TensorRT engine cache folder (created if missing); only used when 'tensorrt' is in providers. */
  tensorrtCacheDir?: string;
}

export interface ProviderFailure {
  provider: ExecutionProvider;
  error: string;
}

/** What createClassifier returns: a Classifier plus batches and the story of provider selection. */
export interface OrtClassifier extends Classifier {
  /** Providers tried before the one in use, and why each failed. */
  readonly providerFailures: readonly ProviderFailure[];
  /** A batch [N,…] in one run (embedding a dataset for training); one Classification per image, in order. */
  classifyBatch(input: Tensor): Promise<Classification[]>;
}

/** A sentence that tells a user what a provider failure means. */
function explain(provider: ExecutionProvider, message: string): string {
  if (provider !== 'cpu' && /failed to load shared library|backend not found|not supported|unsupported/i.test(message)) {
    return `${message} (this onnxruntime build has no ${provider} support or its GPU libraries are not installed: CUDA 12 + cuDNN 9${provider === 'tensorrt' ? ' + TensorRT 10' : ''}; npm ships a CPU-only build for arm64)`;
  }
  return message;
}

/** The manifest's input shape with dynamic dims filled in for one image: what the warm-up feeds. */
function warmupDims(m: Manifest): number[] {
  const [h, w] = m.preprocess.size;
  const filled = m.input.layout === 'NCHW' ? [1, 3, h, w] : [1, h, w, 3];
  return m.input.shape.map((d, i) => (d > 0 ? d : filled[i]!));
}

/** Throws unless `t` fits the manifest's input: rank 4, fixed dims equal, data length = product of dims. */
export function checkInputTensor(t: Tensor, m: Manifest): void {
  const expected = `[${m.input.shape.map((d) => (d > 0 ? d : 'N')).join(',')}]`;
  const fail = (why: string) => {
    throw new EdgecamError('INFERENCE_INPUT_SHAPE', `input tensor [${t.dims.join(',')}] does not fit model "${m.name}" input "${m.input.name}" ${expected} (${m.input.layout}): ${why}; preprocess images with this model's manifest (preprocessSpecOf)`);
  };
  if (t.dims.length !== 4) fail(`rank ${t.dims.length}, expected 4`);
  if (!(t.dims[0]! >= 1)) fail('batch size must be at least 1');
  m.input.shape.forEach((d, i) => {
    if (d > 0 && t.dims[i] !== d) fail(`dimension ${i} is ${t.dims[i]}, expected ${d}`);
  });
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) fail(`${t.data.length} values for ${size} elements`);
}

function asFloats(t: OrtTensorLike | undefined, name: string): Float32Array {
  if (!t) throw new ModelError('MODEL_OUTPUT_MISSING', `the model returned no output "${name}"; check output names in manifest.json against \`edgecam model inspect\``);
  if (t.data instanceof Float32Array) return t.data;
  if (ArrayBuffer.isView(t.data) && !(t.data instanceof BigInt64Array) && !(t.data instanceof BigUint64Array)) {
    return Float32Array.from(t.data as unknown as ArrayLike<number>);
  }
  throw new ModelError('MODEL_OUTPUT_TYPE', `output "${name}" has type ${t.type ?? typeof t.data}; edgecam reads numeric outputs only`);
}

export async function createClassifier(deps: ClassifierDeps, options: ClassifierOptions): Promise<OrtClassifier> {
  const { manifest, modelBytes } = options.folder;
  const log = deps.logger.child({ component: 'inference', model: manifest.name, version: manifest.version });
  const factory = deps.sessionFactory ?? createOrtSession;
  const providers = options.providers ?? DEFAULT_PROVIDERS;
  if (providers.length === 0) throw new EdgecamError('INFERENCE_NO_PROVIDER', 'no execution providers configured; list at least "cpu"');
  if (providers.includes('tensorrt') && options.tensorrtCacheDir) await enableTensorrtCache(options.tensorrtCacheDir, deps.env ?? process.env, log);

  const failures: ProviderFailure[] = [];
  for (const provider of providers) {
    const started = performance.now();
    let session: SessionLike | undefined;
    try {
      session = await factory(modelBytes, sessionOptionsFor(provider, { intraOpThreads: options.intraOpThreads, interOpThreads: options.interOpThreads }));
      const classifier = new OrtSessionClassifier(manifest, provider, session, failures, deps.clock ?? performance, log);
      classifier.checkGraphNames();
      const warmupStart = performance.now();
      await classifier.classify({ data: new Float32Array(warmupDims(manifest).reduce((a, b) => a * b, 1)), dims: warmupDims(manifest) });
      log.info({ provider, loadMs: Math.round(warmupStart - started), warmupMs: Math.round(performance.now() - warmupStart), failed: failures.map((f) => f.provider) }, 'model loaded');
      return classifier;
    } catch (err) {
      await session?.release().catch(() => undefined);
      const error = explain(provider, errorMessage(err));
      failures.push({ provider, error });
      // An explicitly requested provider failing deserves a warning; the default CUDA attempt on a CPU box does not.
      log[options.providers ? 'warn' : 'info']({ provider, error }, 'execution provider failed, trying the next one');
    }
  }
  throw new EdgecamError('INFERENCE_NO_PROVIDER',
    `could not run model "${manifest.name}" ${manifest.version} on any execution provider:\n  - ${failures.map((f) => `${f.provider}: ${f.error}`).join('\n  - ')}\nFix the error above, or list only providers this machine has (e.g. --providers cpu).`);
}

async function enableTensorrtCache(dir: string, env: Record<string, string | undefined>, log: Logger): Promise<void> {
  await mkdir(dir, { recursive: true });
  const set: string[] = [];
  for (const [key, value] of Object.entries(tensorrtCacheEnv(dir))) {
    if (env[key] === undefined) {
      env[key] = value;
      set.push(key);
    }
  }
  log.info({ dir, set }, 'TensorRT engine cache enabled');
}

class OrtSessionClassifier implements OrtClassifier {
  private disposed = false;
  private warnedKind = false;

  constructor(
    readonly manifest: Manifest,
    readonly provider: ExecutionProvider,
    private readonly session: SessionLike,
    readonly providerFailures: readonly ProviderFailure[],
    private readonly clock: { now(): number },
    private readonly log: Logger,
  ) {}

  /** The session's own view of the graph must have the manifest's tensor names. */
  checkGraphNames(): void {
    const m = this.manifest;
    const missing: string[] = [];
    if (!this.session.inputNames.includes(m.input.name)) missing.push(`input.name "${m.input.name}" (graph inputs: ${this.session.inputNames.join(', ')})`);
    for (const name of [m.output.name, m.output.embedding?.name].filter((n): n is string => n !== undefined)) {
      if (!this.session.outputNames.includes(name)) missing.push(`output "${name}" (graph outputs: ${this.session.outputNames.join(', ')})`);
    }
    if (missing.length) throw new ModelError('MODEL_MANIFEST_MISMATCH', `manifest.json names tensors the model does not have: ${missing.join('; ')}`);
  }

  async classify(input: Tensor): Promise<Classification> {
    if (input.dims[0] !== 1) {
      throw new EdgecamError('INFERENCE_INPUT_SHAPE', `classify() takes one image (batch 1), got batch ${input.dims[0]}; use classifyBatch()`);
    }
    return (await this.classifyBatch(input))[0]!;
  }

  async classifyBatch(input: Tensor): Promise<Classification[]> {
    if (this.disposed) throw new EdgecamError('INFERENCE_DISPOSED', `model "${this.manifest.name}" was unloaded; load it again`);
    checkInputTensor(input, this.manifest);
    const m = this.manifest;
    const t0 = this.clock.now();
    const results = await this.session.run({ [m.input.name]: input });
    const latencyMs = this.clock.now() - t0;
    const batch = input.dims[0]!;
    const scores = asFloats(results[m.output.name], m.output.name);
    const embedding = m.output.embedding ? asFloats(results[m.output.embedding.name], m.output.embedding.name) : undefined;
    if (scores.length % batch !== 0) {
      throw new ModelError('MODEL_OUTPUT_WIDTH', `output "${m.output.name}" has ${scores.length} values for a batch of ${batch}`);
    }
    const width = scores.length / batch;
    const embWidth = embedding ? embedding.length / batch : 0;
    const out: Classification[] = [];
    for (let i = 0; i < batch; i++) {
      const row = scores.subarray(i * width, (i + 1) * width);
      this.warnIfKindLooksWrong(row);
      const c: Classification = { scores: toProbabilities(row, m.output.kind, m.labels), latencyMs: latencyMs / batch };
      // slice (copy): a kept embedding must not pin the whole batch's output buffer.
      if (embedding) c.embedding = embedding.slice(i * embWidth, (i + 1) * embWidth);
      out.push(c);
    }
    return out;
  }

  private warnIfKindLooksWrong(row: Float32Array): void {
    if (this.warnedKind || !outputLooksLikeLogits(row, this.manifest.output.kind)) return;
    this.warnedKind = true;
    this.log.warn({ kind: this.manifest.output.kind }, `output "${this.manifest.output.name}" holds values outside [0,1] although manifest output.kind is "${this.manifest.output.kind}"; treating them as logits. Set output.kind to "logits" in manifest.json`);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}
