import { basename, dirname } from 'node:path';
import { z } from 'zod';
import { EdgecamError, errorMessage } from '../errors.js';
import type { Metric } from '../http/metrics.js';
import type { Logger } from '../logger.js';
import type { FinetuneProgress } from '../learn/finetune.js';
import type { FinetuneOutcome, finetuneAndActivate as FinetuneAndActivate } from '../learn/finetune-process.js';
import { defaultCacheDir, finetuneOptions } from '../learn/finetune-options.js';
import { preprocessSpecOf, type Manifest } from '../models/manifest.js';
import type { MqttBus } from '../publish/mqtt.js';
import type { RequestRouter } from '../publish/requests.js';
import type { Clock, Component, Frame, Scores } from '../types.js';
import { Collector, type CollectOptions, type SavedFrame } from './collector.js';
import { embeddingCacheKey } from './embedding-cache.js';
import { collectorMetrics } from './metrics.js';
import { setLabels } from './labels.js';

/**
 * The learning loop inside the daemon (issue 5): frames worth keeping go to the Collector, the MQTT `label`
 * request labels them, the `finetune` request fine-tunes in a low-priority child process and, when the gate
 * accepts, activates the new version and hot-swaps it in between frames. Progress goes to `<base>/finetune`.
 */

export interface LearningLoopDeps {
  logger: Logger;
  clock: Clock;
  mqtt: MqttBus;
  /** Reload the configured model folder (the store's `active`) and swap it in: Daemon.reloadModel. */
  reload: (reason: string) => Promise<unknown>;
  /** Injected for tests; default: the real child-process fine-tune. */
  finetune?: typeof FinetuneAndActivate;
}

export interface LearningLoopOptions {
  collect: Omit<CollectOptions, 'camera' | 'source'> & { enabled: boolean };
  /** The folder the daemon serves; fine-tuning needs it to be <store>/active. */
  modelDir: string;
  finetune: { holdoutShare: number; margin: number; epochs: number; lr: number; weightDecay?: number; mirror?: boolean; nice: number };
  camera?: string;
  source?: string;
  logLevel?: string;
}

export const FINETUNE_TOPIC = 'finetune';

const frameIds = z.array(z.string().min(1).max(64)).min(1).max(1000);
export const labelRequestSchema = z.object({ ids: frameIds, class: z.string().min(1).max(200) }).strict();
export const finetuneRequestSchema = z.object({
  force: z.boolean().optional(),
  margin: z.number().gt(-1).lt(1).optional(),
  epochs: z.number().int().min(1).max(1000).optional(),
  lr: z.number().gt(0).max(1).optional(),
  weightDecay: z.number().min(0).lt(10).optional(),
  mirror: z.boolean().optional(),
}).strict();

export class LearningLoop implements Component {
  private collector: Collector | undefined;
  private running: Promise<FinetuneOutcome> | undefined;
  private cancel: (() => void) | undefined;
  private lastProgress: FinetuneProgress | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: LearningLoopDeps, private readonly options: LearningLoopOptions) {
    this.log = deps.logger.child({ component: 'learning' });
  }

  get collecting(): boolean {
    return this.collector !== undefined;
  }

  get collectorStats(): Collector['counters'] | undefined {
    return this.collector?.counters;
  }

  /** Collection's /metrics families (none when collection is off); the daemon appends them to its own. */
  metrics(): Metric[] {
    const c = this.collector;
    return c ? collectorMetrics({ counters: c.counters, paused: c.paused, usage: c.usage }) : [];
  }

  async start(): Promise<void> {
    if (!this.options.collect.enabled || this.collector) return;
    const c = new Collector({ logger: this.deps.logger, clock: this.deps.clock }, {
      ...this.options.collect, embeddingCacheDir: defaultCacheDir(this.options.collect.dir), ...(this.options.camera ? { camera: this.options.camera } : {}), ...(this.options.source ? { source: this.options.source } : {}),
    });
    await c.start();
    this.collector = c;
  }

  async stop(): Promise<void> {
    this.cancel?.();
    await this.running?.catch(() => undefined);
    const c = this.collector;
    this.collector = undefined;
    await c?.stop();
  }

  /** Every classified frame passes here (never throws, never waits). */
  offer(frame: Frame, classification: { scores: Scores; embedding?: Float32Array }, decision: { label: string; stableLabel: string; changed: boolean }, model: Manifest): void {
    if (!this.collector) return;
    const { scores, embedding } = classification;
    const p = scores.probabilities;
    const top = p.reduce((best, v, i) => (v > p[best]! ? i : best), 0);
    this.collector.offer({
      frame, label: scores.labels[top] ?? decision.label, confidence: p[top] ?? 0, stableLabel: decision.stableLabel, stableChanged: decision.changed,
      scores: Object.fromEntries(scores.labels.map((l, i) => [l, Number(p[i]!.toFixed(4))])), model: { name: model.name, version: model.version },
      // Same key as finetune.ts uses: the backbone and its preprocessing are what the embedding depends on, not the head.
      ...(embedding ? { embedding: { key: embeddingCacheKey(model.provenance.backboneSha256 ?? model.sha256, preprocessSpecOf(model)), values: embedding } } : {}),
    });
  }

  /** The `capture` request when collection is on: into the collection folder with a sidecar (labelled when asked). */
  async capture(frame: Frame, label: string | undefined, meta: { scores?: Scores; model?: { name: string; version: string } | null }): Promise<SavedFrame> {
    if (!this.collector) throw new EdgecamError('COLLECT_DISABLED', 'collection is off; set collect.enabled: true');
    const s = meta.scores;
    const top = s ? s.probabilities.indexOf(Math.max(...s.probabilities)) : -1;
    return this.collector.capture(frame, s ? {
      label: s.labels[top]!, confidence: s.probabilities[top]!, stableChanged: false, model: meta.model ?? null,
      scores: Object.fromEntries(s.labels.map((l, i) => [l, Number(s.probabilities[i]!.toFixed(4))])),
    } : undefined, label);
  }

  register(router: RequestRouter): void {
    router.register('label', labelRequestSchema, async (r) => {
      const result = await setLabels(this.options.collect.dir, r.ids, r.class);
      return { labelled: result.labelled.length, missing: result.missing };
    });
    router.register('finetune', finetuneRequestSchema, async (r) => this.summary(await this.finetune(r)));
  }

  progress(): FinetuneProgress | undefined {
    return this.lastProgress;
  }

  /** For the web page (http/api-models FinetuneControl): start in the background and answer at once. */
  get control(): { start(): Promise<Record<string, unknown>>; progress(): FinetuneProgress | undefined } {
    return {
      start: async () => {
        const run = this.finetune({});
        run.catch(() => undefined);
        return { started: true };
      },
      progress: () => this.progress(),
    };
  }

  /** Fine-tune now; rejects when one is already running or the daemon does not serve from a store. */
  finetune(r: z.output<typeof finetuneRequestSchema>): Promise<FinetuneOutcome> {
    if (this.running) return Promise.reject(new EdgecamError('FINETUNE_BUSY', 'a fine-tune is already running; watch its progress on the finetune topic and try again when it is done'));
    if (basename(this.options.modelDir) !== 'active') {
      return Promise.reject(new EdgecamError('FINETUNE_NO_STORE', `the daemon serves ${this.options.modelDir}, not a model store's "active" version; install the model with \`edgecam model install <folder>\` and run with model.dir: models/active`));
    }
    const f = this.options.finetune;
    const options = finetuneOptions({
      data: this.options.collect.dir, models: dirname(this.options.modelDir), holdoutShare: f.holdoutShare,
      margin: r.margin ?? f.margin, epochs: r.epochs ?? f.epochs, lr: r.lr ?? f.lr, force: r.force ?? false,
      // The request overrides the config, which overrides FINETUNE_DEFAULTS.
      ...((r.weightDecay ?? f.weightDecay) !== undefined ? { weightDecay: r.weightDecay ?? f.weightDecay } : {}),
      ...((r.mirror ?? f.mirror) !== undefined ? { mirror: r.mirror ?? f.mirror } : {}),
    });
    const run = async (): Promise<FinetuneOutcome> => {
      const { finetuneAndActivate } = this.deps.finetune ? { finetuneAndActivate: this.deps.finetune } : await import('../learn/finetune-process.js');
      return finetuneAndActivate({ logger: this.deps.logger }, options, {
        nice: f.nice, ...(this.options.logLevel ? { logLevel: this.options.logLevel } : {}),
        onStart: (handle) => { this.cancel = handle.cancel; },
        onProgress: (p) => this.publishProgress(p),
        onActivated: async () => { await this.deps.reload('fine-tuned model activated'); },
      });
    };
    this.publishProgress({ state: 'starting' });
    const running = run().then((outcome) => {
      this.log.info(this.summary(outcome), outcome.activated ? 'fine-tuned model is serving' : 'fine-tuned model rejected');
      return outcome;
    }, (err: unknown) => {
      this.publishProgress({ state: 'failed', message: errorMessage(err) });
      throw err;
    }).finally(() => { this.running = undefined; this.cancel = undefined; });
    this.running = running;
    return running;
  }

  private summary(o: FinetuneOutcome): Record<string, unknown> {
    return {
      version: o.version, activated: o.activated, accepted: o.accepted, forced: o.forced, reason: o.reason, parentVersion: o.parentVersion,
      labels: o.labels, newClasses: o.newClasses, candidateAccuracy: o.candidateAccuracy, currentAccuracy: o.currentAccuracy,
      counts: o.counts, embeddings: o.embeddings, seconds: Number(o.seconds.toFixed(2)), ...(o.secondsToActive !== undefined ? { secondsToActive: Number(o.secondsToActive.toFixed(2)) } : {}),
    };
  }

  private publishProgress(p: FinetuneProgress): void {
    this.lastProgress = p;
    if (p.state !== 'embedding') this.log.info(p, `fine-tune ${p.state}`);
    void this.deps.mqtt.publish(FINETUNE_TOPIC, JSON.stringify({ ...p, time: new Date(this.deps.clock.now()).toISOString() }), { qos: 1, retain: true });
  }
}
