import type { Tensor } from '../types.js';
import type { ExecutionProvider, OrtTensorLike, SessionFactory, SessionLike, SessionOptionsLike } from './types.js';

/**
 * onnxruntime-node behind the SessionFactory seam: session options for one execution provider, and the real
 * factory. The engine (engine.ts) never imports onnxruntime itself, so tests can swap the factory.
 */

export interface SessionTuning {
  /** Threads inside one operator (default 1: on 2-4 core boards more threads fight each other, FIELD-NOTES). */
  intraOpThreads?: number;
  interOpThreads?: number;
}

/**
 * Options for a session on exactly ONE provider. ORT given ['cuda','cpu'] does not fall back when CUDA's
 * library is missing (session creation fails as a whole), so the engine tries providers one by one.
 */
export function sessionOptionsFor(provider: ExecutionProvider, tuning: SessionTuning = {}): SessionOptionsLike {
  return {
    executionProviders: [provider === 'cpu' ? 'cpu' : { name: provider, deviceId: 0 }],
    intraOpNumThreads: tuning.intraOpThreads ?? 1,
    interOpNumThreads: tuning.interOpThreads ?? 1,
    graphOptimizationLevel: 'all',
    // Native error lines would go straight to stderr; failures reach us as exceptions anyway.
    logSeverityLevel: 4,
    // With more than one intra-op thread, spinning workers make ORT ~3× slower on 2 cores (FIELD-NOTES).
    extra: { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' },
  };
}

/**
 * TensorRT engine cache. onnxruntime-node 1.30 forwards only `deviceId` to the TensorRT provider, so the
 * provider's documented environment variables are the one way to enable its engine cache (building engines
 * takes minutes on a Jetson; the cache makes restarts fast). Returns the variables to set, without touching env.
 */
export function tensorrtCacheEnv(cacheDir: string): Record<string, string> {
  return {
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
    ORT_TENSORRT_CACHE_PATH: cacheDir,
    ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
  };
}

class OrtSession implements SessionLike {
  constructor(
    private readonly ort: typeof import('onnxruntime-node'),
    private readonly session: import('onnxruntime-node').InferenceSession,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, Tensor>): Promise<Record<string, OrtTensorLike>> {
    const ortFeeds: Record<string, import('onnxruntime-node').Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor('float32', t.data, t.dims);
    return this.session.run(ortFeeds);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The real factory: onnxruntime-node's InferenceSession.create, imported lazily (it loads a native library). */
export const createOrtSession: SessionFactory = async (modelBytes, options) => {
  const ort = await import('onnxruntime-node');
  // The environment logger is created with the first session and prints provider-library failures to stderr
  // even with logSeverityLevel 4; we log those failures ourselves, once, with a hint.
  if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
  return new OrtSession(ort, await ort.InferenceSession.create(modelBytes, options));
};
