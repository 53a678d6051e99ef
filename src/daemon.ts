import type { CameraStatus, CaptureSource } from './capture/source.js';
import type { Config } from './config/schema.js';
import { decisionOptionsOf } from './config/decision.js';
import { EdgecamError, errorMessage } from './errors.js';
import { HttpServer } from './http/server.js';
import { createWebUi, storeRootOf } from './http/api.js';
import type { LiveState } from './http/api-live.js';
import { ModelStore } from './models/store.js';
import { LearningLoop } from './collect/daemon-hook.js';
import type { Classifier } from './inference/types.js';
import type { Logger } from './logger.js';
import type { PreprocessSpec } from './models/manifest.js';
import { FramePipeline, type FrameResult } from './pipeline/runner.js';
import { RateMeter } from './pipeline/stats.js';
import { initialDecisionState, stepDecision, type Decision, type DecisionOptions, type DecisionState } from './postprocess/decision.js';
import { HomeAssistantDiscovery } from './publish/discovery.js';
import { EmbeddedBroker } from './publish/embedded-broker.js';
import { EdgecamMqtt, type MqttConnect } from './publish/mqtt.js';
import { RequestRouter } from './publish/requests.js';
import { saveCapture } from './daemon/capture-writer.js';
import { ModelReloader, type LoadedModel } from './daemon/model-reloader.js';
import { applyThresholdChange, registerDaemonRequests, type SetThresholdRequest } from './daemon/requests.js';
import { decisionLine, mqttOptionsOf } from './daemon/wiring.js';
import { healthReport, metrics, statsPayload, type DaemonSnapshot } from './daemon/telemetry.js';
import type { Clock, Component, Frame, Tensor } from './types.js';

/** A camera as the daemon needs it: a CaptureSource that also reports status (the capture Watchdog). */
export interface WatchedCamera extends CaptureSource {
  readonly status: CameraStatus;
  readonly restarts: number;
  readonly lastError?: Error;
}

export interface DaemonDeps {
  logger: Logger;
  clock: Clock;
  mqttConnect: MqttConnect;
  createCamera: () => WatchedCamera;
  loadClassifier: (dir: string) => Promise<Classifier>;
  preprocess: (bytes: Uint8Array, spec: PreprocessSpec) => Promise<Tensor>;
  /** Where decision lines go when log.decisions is on (stdout in production). */
  print?: (line: string) => void;
  memoryUsage?: () => NodeJS.MemoryUsage;
  /** edgecam's version, for Home Assistant's device info and status. */
  version: string;
}

export interface DaemonOptions {
  config: Config;
  /** The model folder, resolved (config.model.dir or the bundled default). */
  modelDir: string;
}

interface Step { name: string; essential: boolean; component: Component }

/**
 * The long-running service: starts components in order (broker → mqtt → model → discovery → pipeline → requests →
 * camera → http → stats), stops them in reverse. Essential parts failing to start stop the daemon with their error;
 * optional ones (discovery, http) are logged and left out. Frames flow camera → pipeline → decide → publish.
 */
export class Daemon implements Component {
  private started: Step[] = [];
  private mqtt: EdgecamMqtt | undefined;
  private camera: WatchedCamera | undefined;
  private pipeline: FramePipeline | undefined;
  private discovery: HomeAssistantDiscovery | undefined;
  private router: RequestRouter | undefined;
  private learning: LearningLoop | undefined;
  private http: HttpServer | undefined;
  private readonly model: ModelReloader;
  private decisionOptions: DecisionOptions;
  private decisionState: DecisionState = initialDecisionState();
  private lastDecision: (Decision & { frameTime: number }) | undefined;
  private lastFrame: Frame | undefined;
  private lastResult: FrameResult | undefined;
  private lastFrameAt: number | undefined;
  private statePublished = false;
  private startedAt = 0;
  private statsTimer: NodeJS.Timeout | number | undefined;
  private readonly fps = new RateMeter();
  private readonly reloads = { ok: 0, failed: 0 };
  private readonly log: Logger;

  constructor(
    private readonly deps: DaemonDeps,
    private readonly options: DaemonOptions,
  ) {
    this.log = deps.logger.child({ component: 'daemon' });
    this.decisionOptions = decisionOptionsOf(options.config.decision);
    this.model = new ModelReloader(
      { logger: deps.logger, clock: deps.clock, loadClassifier: deps.loadClassifier, swap: (next) => this.swapClassifier(next) },
      { dir: options.modelDir, watch: options.config.model.watch },
    );
  }

  /** The HTTP port actually bound (tests use port 0). */
  get httpPort(): number | undefined {
    return this.http?.port;
  }

  get mqttUrl(): string | undefined {
    return this.brokerUrl;
  }

  private brokerUrl: string | undefined;

  async start(): Promise<void> {
    if (this.started.length) return;
    const { config } = this.options;
    const { deps } = this;
    this.startedAt = deps.clock.now();
    try {
      if (!config.mqtt.url) {
        const broker = new EmbeddedBroker({ logger: deps.logger }, { port: config.mqtt.embeddedPort, host: config.mqtt.embeddedHost });
        await this.startStep({ name: 'embedded broker', essential: true, component: broker });
        this.brokerUrl = broker.url;
      } else {
        this.brokerUrl = config.mqtt.url;
      }
      this.mqtt = new EdgecamMqtt({ connect: deps.mqttConnect, logger: deps.logger, clock: deps.clock }, mqttOptionsOf(this.options.config.mqtt, this.brokerUrl));
      await this.startStep({ name: 'mqtt', essential: true, component: this.mqtt });
      this.model.on('swapped', (_classifier, info) => this.onModelSwapped(info));
      await this.startStep({ name: 'model', essential: true, component: this.model });
      const loaded = this.model.loaded!;
      this.discovery = new HomeAssistantDiscovery({ mqtt: this.mqtt, logger: deps.logger, clock: deps.clock }, {
        enabled: config.mqtt.discovery.enabled, prefix: config.mqtt.discovery.prefix, classes: loaded.labels,
        swVersion: deps.version, model: `${loaded.name} ${loaded.version}`,
      });
      await this.startStep({ name: 'home assistant discovery', essential: false, component: this.discovery });
      this.pipeline = new FramePipeline({ logger: deps.logger.child({ component: 'pipeline' }), clock: deps.clock, preprocess: deps.preprocess }, {
        classifier: this.model.current!, onResult: (r) => this.onResult(r),
      });
      await this.startStep({ name: 'pipeline', essential: true, component: this.pipeline });
      this.router = new RequestRouter({ mqtt: this.mqtt, logger: deps.logger });
      registerDaemonRequests(this.router, {
        status: () => this.status(),
        capture: (r) => this.capture(r),
        reloadModel: (r) => this.reloadModel('request', r.dir),
        setThreshold: (r) => this.setThreshold(r),
      });
      this.learning = this.learningLoop(this.mqtt);
      this.learning.register(this.router);
      await this.startStep({ name: 'learning loop', essential: false, component: this.learning });
      await this.startStep({ name: 'requests', essential: false, component: this.router });
      this.camera = deps.createCamera();
      this.camera.on('frame', (frame) => this.onFrame(frame));
      this.camera.on('status', (status) => this.onCameraStatus(status));
      this.camera.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'camera error (the watchdog restarts it)'));
      await this.startStep({ name: 'camera', essential: true, component: this.camera });
      if (config.http.enabled) {
        this.http = new HttpServer({
          logger: deps.logger.child({ component: 'http' }), health: () => healthReport(this.snapshot()), metrics: () => [...metrics(this.snapshot()), ...(this.learning?.metrics() ?? [])],
          extensions: config.http.ui ? [this.webUi()] : [],
        }, config.http);
        await this.startStep({ name: 'http', essential: false, component: this.http });
      }
      this.fps.sample(0, deps.clock.now());
      this.statsTimer = deps.clock.setInterval(() => void this.publishStats(), config.mqtt.statsInterval * 1000);
      this.log.info({ camera: this.camera.description, model: `${loaded.name} ${loaded.version}`, provider: loaded.provider, broker: this.brokerUrl }, 'edgecam is running');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.deps.clock.clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    const steps = this.started.reverse();
    this.started = [];
    for (const step of steps) {
      try {
        await step.component.stop();
      } catch (err) {
        this.log.warn({ component: step.name, err: errorMessage(err) }, 'component failed to stop cleanly');
      }
    }
    if (steps.length) this.log.info('edgecam stopped');
  }

  /** Load the model again (or another folder), swap it in between frames, keep the old one on failure. */
  async reloadModel(reason: string, dir?: string): Promise<Record<string, unknown>> {
    try {
      const info = await this.model.reload(reason, dir ? { dir } : {});
      this.reloads.ok += 1;
      return { model: info };
    } catch (err) {
      this.reloads.failed += 1;
      const code = err instanceof EdgecamError ? err.code : 'MODEL_RELOAD_FAILED';
      throw new EdgecamError(code, `New model not loaded, the previous one keeps serving: ${errorMessage(err)}`, { cause: err });
    }
  }

  snapshot(): DaemonSnapshot {
    const p = this.pipeline;
    const empty = { total: undefined, inference: undefined, preprocess: undefined };
    const mqtt = this.mqtt?.stats();
    return {
      startedAt: this.startedAt,
      now: this.deps.clock.now(),
      counters: p ? { ...p.counters } : { captured: 0, classified: 0, dropped: 0, failed: 0 },
      latency: p ? { total: p.totalLatency, inference: p.inferenceLatency, preprocess: p.preprocessLatency } : (empty as never),
      camera: {
        status: this.camera?.status ?? 'offline', description: this.camera?.description ?? this.options.config.camera.source,
        restarts: this.camera?.restarts ?? 0, ...(this.camera?.lastError ? { lastError: this.camera.lastError.message } : {}),
        ...(this.lastFrameAt ? { lastFrameAt: this.lastFrameAt } : {}),
      },
      ...(this.model.loaded ? { model: this.model.loaded } : {}),
      stableLabel: this.decisionState.stableLabel,
      stableConfidence: this.lastDecision?.stableConfidence ?? 0,
      ...(mqtt ? { mqtt } : {}),
      ...(this.router ? { requests: this.router.stats() } : {}),
      reloads: { ...this.reloads },
      memory: (this.deps.memoryUsage ?? process.memoryUsage)(),
    };
  }

  /** What the web page's live view shows: the newest frame, the last classification and the smoothing state. */
  live(): LiveState {
    const r = this.lastResult;
    return {
      frame: this.lastFrame,
      result: r ? { frameSeq: r.frame.seq, frameTime: r.frame.timestamp, scores: r.classification.scores, totalMs: r.totalMs } : undefined,
      decision: this.lastDecision, decisionState: this.decisionState, decisionOptions: this.decisionOptions,
    };
  }

  private webUi(): ReturnType<typeof createWebUi> {
    const root = storeRootOf(this.options.modelDir);
    return createWebUi({
      logger: this.deps.logger.child({ component: 'web' }), daemon: this,
      store: root ? new ModelStore({ logger: this.deps.logger.child({ component: 'store' }) }, root) : undefined,
      finetune: this.learning?.control,
    }, { auth: this.options.config.http.auth, dataDir: this.options.config.collect.dir });
  }

  private async startStep(step: Step): Promise<void> {
    try {
      await step.component.start();
      this.started.push(step);
    } catch (err) {
      if (step.essential) {
        this.log.error({ component: step.name, err: errorMessage(err) }, `${step.name} failed to start`);
        throw err;
      }
      this.log.warn({ component: step.name, err: errorMessage(err) }, `${step.name} failed to start; running without it`);
      await step.component.stop().catch(() => undefined);
    }
  }

  private async swapClassifier(next: Classifier): Promise<Classifier> {
    if (this.pipeline) return this.pipeline.swapClassifier(next);
    return this.model.current ?? next;
  }

  private onModelSwapped(info: LoadedModel): void {
    const labels = this.pipeline?.classifier.manifest.labels;
    if (!this.discovery || !labels) return; // first load: nothing to update yet
    if (labels.join('\n') !== info.labels.join('\n')) {
      this.decisionState = initialDecisionState();
      this.statePublished = false;
    }
    void this.discovery.updateClasses(info.labels).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'discovery update failed'));
  }

  private onFrame(frame: Frame): void {
    this.lastFrame = frame;
    this.lastFrameAt = this.deps.clock.now();
    this.pipeline?.push(frame);
  }

  private onCameraStatus(status: CameraStatus): void {
    this.log.info({ status, camera: this.camera?.description }, `camera ${status}`);
    void this.mqtt?.publishCameraStatus(status);
  }

  private onResult(r: FrameResult): void {
    const mqtt = this.mqtt!;
    const { state, decision } = stepDecision(this.decisionState, r.classification.scores, r.frame.timestamp, this.decisionOptions);
    this.decisionState = state;
    // Not spread: that would build decision.smoothed (1000 keys) every frame; it is built when something reads it.
    this.lastDecision = Object.assign(decision, { frameTime: r.frame.timestamp });
    this.lastResult = r;
    const m = r.classifier.manifest;
    // The scores go as they are: the publisher writes them (4 decimals) into the JSON without a 1000-key object.
    void mqtt.publishClassification({
      label: decision.label, confidence: Number(decision.confidence.toFixed(4)), scores: r.classification.scores, model: { name: m.name, version: m.version },
      provider: r.classifier.provider, latencyMs: Number(r.totalMs.toFixed(2)), frameTime: r.frame.timestamp,
      stableLabel: decision.stableLabel, stableConfidence: Number(decision.stableConfidence.toFixed(4)),
    });
    if (decision.changed) {
      if (this.options.config.mqtt.snapshots) void mqtt.publishSnapshot(r.frame.data);
      void mqtt.publishEvent({ from: decision.previous ?? 'unknown', to: decision.stableLabel, confidence: Number(decision.stableConfidence.toFixed(4)), time: r.frame.timestamp });
    }
    if (decision.changed || !this.statePublished) {
      this.statePublished = true;
      void mqtt.publishState(decision.stableLabel);
    }
    if (this.options.config.log.decisions ?? !this.options.config.mqtt.url) this.printDecision(r, decision);
    this.learning?.offer(r.frame, r.classification, decision, m);
  }

  /** Collection, labelling and fine-tuning (src/collect/daemon-hook.ts); optional: the daemon classifies without it. */
  private learningLoop(mqtt: EdgecamMqtt): LearningLoop {
    const { collect, finetune, mqtt: m, log } = this.options.config;
    return new LearningLoop({ logger: this.deps.logger, clock: this.deps.clock, mqtt, reload: (reason) => this.reloadModel(reason) }, {
      collect: { ...collect, sampleIntervalSeconds: collect.sampleInterval }, modelDir: this.options.modelDir, camera: m.cameraId,
      finetune: { holdoutShare: finetune.holdout, margin: finetune.margin, epochs: finetune.epochs, lr: finetune.lr, weightDecay: finetune.weightDecay, mirror: finetune.mirror, nice: finetune.nice }, logLevel: log.level,
    });
  }

  private printDecision(r: FrameResult, d: Decision): void {
    (this.deps.print ?? ((line) => process.stdout.write(line + '\n')))(decisionLine(this.options.config.mqtt.cameraId, r, d));
  }

  private async publishStats(): Promise<void> {
    const s = this.snapshot();
    await this.mqtt?.publishStats(statsPayload(s, this.fps.sample(s.counters.classified, s.now)));
  }

  private status(): Record<string, unknown> {
    const s = this.snapshot();
    return {
      ...healthReport(s), frames: s.counters, model: s.model ?? null, decision: this.decisionOptions,
      lastDecision: this.lastDecision ? { label: this.lastDecision.label, confidence: this.lastDecision.confidence, stableLabel: this.lastDecision.stableLabel, frameTime: new Date(this.lastDecision.frameTime).toISOString() } : null,
      version: this.deps.version,
    };
  }

  private async capture(request: { label?: string }): Promise<Record<string, unknown>> {
    const frame = this.lastFrame;
    if (!frame) throw new EdgecamError('CAPTURE_NO_FRAME', 'No frame has arrived from the camera yet; check the camera status and try again.');
    if (this.learning?.collecting) {
      const r = this.lastResult?.frame === frame ? this.lastResult : undefined;
      return { ...(await this.learning.capture(frame, request.label, { ...(r ? { scores: r.classification.scores } : {}), model: this.model.loaded ? { name: this.model.loaded.name, version: this.model.loaded.version } : null })) };
    }
    const c = this.options.config.collect;
    const d = this.lastDecision;
    const saved = await saveCapture(c.dir, frame, {
      ...(request.label ? { label: request.label } : {}), source: this.camera?.description, cameraId: this.options.config.mqtt.cameraId,
      model: this.model.loaded ? { name: this.model.loaded.name, version: this.model.loaded.version } : null,
      prediction: d ? { label: d.label, confidence: d.confidence, stableLabel: d.stableLabel, scores: d.smoothed } : null,
      capturedAt: new Date(this.deps.clock.now()).toISOString(),
    }, { maxFiles: c.maxFiles, maxMegabytes: c.maxMegabytes });
    this.log.info({ file: saved.image }, 'frame captured');
    return { ...saved };
  }

  private setThreshold(r: SetThresholdRequest): Record<string, unknown> {
    this.decisionOptions = applyThresholdChange(this.decisionOptions, r);
    this.log.info({ decision: this.decisionOptions }, 'decision thresholds changed (until restart)');
    return { decision: this.decisionOptions };
  }
}
