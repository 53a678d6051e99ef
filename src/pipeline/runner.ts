import { performance } from 'node:perf_hooks';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { preprocessSpecOf, type PreprocessSpec } from '../models/manifest.js';
import type { Classification, Classifier } from '../inference/types.js';
import type { Clock, Component, Frame, Tensor } from '../types.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { emptyCounters, LatencyWindow, type PipelineCounters } from './stats.js';

export interface PipelineDeps {
  logger: Logger;
  clock: Clock;
  /** Image bytes → model input (src/preprocess/image.ts preprocessImage in production). */
  preprocess: (bytes: Uint8Array, spec: PreprocessSpec) => Promise<Tensor>;
}

export interface FrameResult {
  frame: Frame;
  classification: Classification;
  /** The model that produced it (after a swap, results name the new model from the first frame it classified). */
  classifier: Classifier;
  preprocessMs: number;
  /** From push() to the result, including waiting. */
  totalMs: number;
}

export interface PipelineOptions {
  classifier: Classifier;
  /** Called for every classified frame, in order. Exceptions are logged and counted, never propagated. */
  onResult: (result: FrameResult) => void;
  /** Minimum time between two log lines about failing frames. Default 10 s. */
  errorLogIntervalMs?: number;
}

interface Waiting { frame: Frame; receivedAt: number }
interface Prepared extends Waiting { tensor: Tensor; spec: PreprocessSpec; preprocessMs: number }

/**
 * frames in → preprocess → classify → onResult, with backpressure by dropping (DESIGN.md convention 5).
 *
 * Two stages run at once (double buffering): while the model classifies frame N, frame N+1 is preprocessed
 * (sharp works in libuv threads, ORT in its own), so throughput is bounded by the slower stage, not their sum.
 * At most one frame waits before preprocessing; a newer frame replaces it and the older one counts as dropped.
 * Memory is therefore bounded: one waiting frame, one being preprocessed or prepared, one in the model.
 *
 * swapClassifier() changes the model between two frames: the frame in the model finishes on the old one; a frame
 * prepared with the old preprocessing recipe is prepared again if the new model's recipe differs, never dropped.
 */
export class FramePipeline implements Component {
  readonly counters: PipelineCounters = emptyCounters();
  /** push() → result, ms. */
  readonly totalLatency = new LatencyWindow();
  /** Inside ONNX Runtime, ms. */
  readonly inferenceLatency = new LatencyWindow();
  readonly preprocessLatency = new LatencyWindow();

  private current: Classifier;
  private running = false;
  private waiting: Waiting | undefined;
  private prepared: Prepared | undefined;
  private preparing: Promise<void> | undefined;
  private inferring: { classifier: Classifier; done: Promise<void> } | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly failures: RateLimitedLog;

  constructor(
    private readonly deps: PipelineDeps,
    private readonly options: PipelineOptions,
  ) {
    this.current = options.classifier;
    this.failures = new RateLimitedLog(deps.logger, deps.clock, options.errorLogIntervalMs ?? 10_000);
  }

  get classifier(): Classifier {
    return this.current;
  }

  async start(): Promise<void> {
    this.running = true;
  }

  /** Stops taking frames and waits for the frames already in a stage to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.waiting = undefined;
    this.prepared = undefined;
    await Promise.allSettled([this.preparing, this.inferring?.done]);
    this.notifyIdle();
  }

  /** Hand over a captured frame. Never throws, never blocks. */
  push(frame: Frame): void {
    if (!this.running) return;
    this.counters.captured += 1;
    if (this.waiting) this.counters.dropped += 1;
    this.waiting = { frame, receivedAt: performance.now() };
    this.pump();
  }

  /**
   * Make `next` the model for every frame from now on. Resolves with the previous classifier once no
   * stage uses it any more, so the caller can dispose it safely.
   */
  async swapClassifier(next: Classifier): Promise<Classifier> {
    const previous = this.current;
    this.current = next;
    if (this.inferring?.classifier === previous) await this.inferring.done.catch(() => undefined);
    return previous;
  }

  /** Resolves when no frame is waiting or in a stage (tests, shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.waiting && !this.prepared && !this.preparing && !this.inferring;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private pump(): void {
    if (this.running && !this.inferring && this.prepared) {
      const job = this.prepared;
      this.prepared = undefined;
      const classifier = this.current;
      const done = this.classify(job, classifier).finally(() => {
        this.inferring = undefined;
        this.pump();
      });
      this.inferring = { classifier, done };
    }
    if (this.running && !this.preparing && !this.prepared && this.waiting) {
      const job = this.waiting;
      this.waiting = undefined;
      this.preparing = this.prepare(job).finally(() => {
        this.preparing = undefined;
        this.pump();
      });
    }
    this.notifyIdle();
  }

  private async prepare(job: Waiting): Promise<void> {
    const spec = preprocessSpecOf(this.current.manifest);
    try {
      const started = performance.now();
      const tensor = await this.deps.preprocess(job.frame.data, spec);
      const preprocessMs = performance.now() - started;
      this.preprocessLatency.add(preprocessMs);
      if (this.running) this.prepared = { ...job, tensor, spec, preprocessMs };
    } catch (err) {
      this.fail(job.frame, 'preprocess', err);
    }
  }

  private async classify(job: Prepared, classifier: Classifier): Promise<void> {
    let classification: Classification;
    let preprocessMs = job.preprocessMs;
    try {
      let tensor = job.tensor;
      const spec = preprocessSpecOf(classifier.manifest);
      if (!sameSpec(spec, job.spec)) {
        // The model was swapped after this frame was prepared: prepare it again for the new model.
        const started = performance.now();
        tensor = await this.deps.preprocess(job.frame.data, spec);
        preprocessMs += performance.now() - started;
      }
      classification = await classifier.classify(tensor);
    } catch (err) {
      this.fail(job.frame, 'classify', err);
      return;
    }
    this.counters.classified += 1;
    this.inferenceLatency.add(classification.latencyMs);
    const totalMs = performance.now() - job.receivedAt;
    this.totalLatency.add(totalMs);
    try {
      this.options.onResult({ frame: job.frame, classification, classifier, preprocessMs, totalMs });
    } catch (err) {
      this.failures.warn({ err: errorMessage(err), seq: job.frame.seq }, 'handling a classified frame failed');
    }
  }

  private fail(frame: Frame, stage: string, err: unknown): void {
    this.counters.failed += 1;
    this.failures.warn({ stage, err: errorMessage(err), seq: frame.seq, origin: frame.origin, failed: this.counters.failed }, `frame skipped: ${stage} failed`);
  }
}

function sameSpec(a: PreprocessSpec, b: PreprocessSpec): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
