import { performance } from 'node:perf_hooks';
import { configSchema } from '../config/schema.js';
import { Daemon } from '../daemon.js';
import { createLogger } from '../logger.js';
import type { MqttConnect } from '../publish/mqtt.js';
import { systemClock } from '../types.js';
import { GatedCamera } from './gated-camera.js';
import { LatencyProbe, uniqueMsClock } from './latency-probe.js';
import { median, percentile, toMb, type RssSample } from './stats.js';

/**
 * Stage (c): the real daemon (watchdog-wrapped folder replay at full speed → FramePipeline → decisions → MQTT)
 * in THIS process, which the bench starts as a child so that RSS and CPU are the daemon's alone. Only the camera
 * is built here instead of from config: config caps fps at 60, the bench wants no pacing, and a gate.
 *
 * Two ways to run it. `windows`: the parent opens and closes the camera gate and times the stages alone in its own
 * process while the gate is closed, so stages and pipeline are measured under the same background load (this
 * machine is shared). `continuous` (soak): frames flow for the whole run and RSS/fps are sampled.
 */

export interface PipelineRunOptions {
  modelDir: string;
  framesDir: string;
  mqttUrl: string;
  /** Topic prefix of this run (unique per run: the bench never mixes its messages with anything else). */
  baseTopic: string;
  intraOpThreads: number;
  /** Where ONNX Runtime runs: its own worker thread or the event-loop thread. */
  inference: 'worker' | 'main';
  mode: 'windows' | 'continuous';
  warmupSeconds: number;
  /** continuous: how long to run after warm-up. */
  seconds: number;
  /** RSS/fps sample period while frames flow. */
  sampleEverySeconds: number;
}

export interface WindowFigures { acked: number; seconds: number; latencies: number[] }

export interface PipelineFigures {
  fps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  acknowledged: number;
  counters: { captured: number; classified: number; dropped: number; failed: number };
  rssPeakMb: number;
  rssSteadyMb: number;
  /** CPU time of this process while frames flowed, % of one core (200 % = both cores of a 2-core board). */
  cpuPct: number;
  /** CPU time of the daemon process per acknowledged frame, ms (all threads; includes frames dropped by backpressure). */
  cpuMsPerFrame: number;
  samples: RssSample[];
  /** The pipeline's own per-stage p50 while overlapped (what each stage cost with the other running). */
  stageP50Ms: { preprocess: number | null; inference: number | null };
}

export type ParentCommand = { cmd: 'open' } | { cmd: 'close' } | { cmd: 'finish' };
export type PipelineMessage =
  | { type: 'ready' }
  | { type: 'window'; window: WindowFigures }
  | { type: 'sample'; sample: RssSample }
  | { type: 'result'; figures: PipelineFigures }
  | { type: 'error'; message: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createBenchDaemon(options: PipelineRunOptions): Promise<{ daemon: Daemon; probe: LatencyProbe; camera: () => GatedCamera }> {
  const [{ connectAsync }, capture, folder, engine, image, worker] = await Promise.all([
    import('mqtt'), import('../capture/create.js'), import('../models/folder.js'), import('../inference/engine.js'), import('../preprocess/image.js'),
    import('../inference/worker-session.js'),
  ]);
  const logger = createLogger({ level: 'warn', destination: process.stderr, pretty: false });
  const probe = new LatencyProbe();
  const config = configSchema.parse({
    camera: { source: `folder:${options.framesDir}` },
    model: { dir: options.modelDir, providers: ['cpu'], intraOpThreads: options.intraOpThreads, watch: false },
    // Discovery off: an ImageNet model would announce 1000 binary sensors; a camera model has a handful.
    mqtt: { url: options.mqttUrl, baseTopic: options.baseTopic, cameraId: 'bench', discovery: { enabled: false }, statsInterval: 10 },
    http: { enabled: false },
    log: { level: 'warn', decisions: false },
  });
  let gated: GatedCamera | undefined;
  const daemon = new Daemon({
    logger, clock: systemClock, version: 'bench',
    mqttConnect: probe.wrapConnect(connectAsync as MqttConnect),
    createCamera: () => {
      const watchdog = capture.createWatchedSource({ logger, clock: uniqueMsClock(systemClock) }, config.camera.source, { fps: 0, loop: true }, { stallTimeoutMs: 5000 });
      watchdog.on('frame', (f) => probe.frameArrived(f.timestamp));
      gated = new GatedCamera(watchdog, { openAtStart: true });
      return gated;
    },
    loadClassifier: async (dir) => engine.createClassifier({ logger, ...(options.inference === 'worker' ? { sessionFactory: worker.createOrtWorkerSession } : {}) }, { folder: await folder.loadModelFolder(dir), providers: ['cpu'], intraOpThreads: options.intraOpThreads }),
    preprocess: image.preprocessImage,
  }, { config, modelDir: options.modelDir });
  return { daemon, probe, camera: () => gated! };
}

/** Waits until no acknowledgement arrived for `quietMs` (frames in flight have finished). */
async function settle(probe: LatencyProbe, quietMs = 150): Promise<void> {
  let last = probe.acknowledged;
  for (;;) {
    await sleep(quietMs);
    if (probe.acknowledged === last) return;
    last = probe.acknowledged;
  }
}

class Sampler {
  readonly samples: RssSample[] = [];
  private cpuMicros = 0;
  private flowingMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private cpuAt: NodeJS.CpuUsage | undefined;
  private startedAt = 0;
  private lastAcked = 0;
  private lastAt = 0;
  private readonly origin = performance.now();

  constructor(private readonly probe: LatencyProbe, private readonly everyMs: number, private readonly onSample: (s: RssSample) => void) {}

  resume(): void {
    this.cpuAt = process.cpuUsage();
    this.startedAt = this.lastAt = performance.now();
    this.lastAcked = this.probe.acknowledged;
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  pause(): void {
    clearInterval(this.timer);
    if (!this.cpuAt) return;
    const cpu = process.cpuUsage(this.cpuAt);
    this.cpuMicros += cpu.user + cpu.system;
    this.flowingMs += performance.now() - this.startedAt;
    this.cpuAt = undefined;
  }

  get cpuMs(): number {
    return this.cpuMicros / 1000;
  }

  get cpuPct(): number {
    return this.flowingMs > 0 ? (this.cpuMicros / 1000 / this.flowingMs) * 100 : Number.NaN;
  }

  private sample(): void {
    const now = performance.now();
    const acked = this.probe.acknowledged;
    const s: RssSample = { t: (now - this.origin) / 1000, rssMb: toMb(process.memoryUsage.rss()), fps: ((acked - this.lastAcked) * 1000) / (now - this.lastAt) };
    this.lastAcked = acked;
    this.lastAt = now;
    this.samples.push(s);
    this.onSample(s);
    this.probe.prune();
  }
}

export async function runPipelineBench(options: PipelineRunOptions, send: (m: PipelineMessage) => void, commands: AsyncIterable<ParentCommand>): Promise<PipelineFigures> {
  const { daemon, probe, camera } = await createBenchDaemon(options);
  const sampler = new Sampler(probe, options.sampleEverySeconds * 1000, (sample) => send({ type: 'sample', sample }));
  let latencies: number[] = [];
  let acknowledged = 0;
  let flowingSeconds = 0;
  await daemon.start();
  try {
    while (probe.acknowledged === 0) await sleep(1);
    await sleep(options.warmupSeconds * 1000);
    if (options.mode === 'continuous') {
      probe.takeLatencies();
      const acked0 = probe.acknowledged;
      const t0 = performance.now();
      sampler.resume();
      while (performance.now() - t0 < options.seconds * 1000) {
        await sleep(Math.min(1000, options.seconds * 1000 - (performance.now() - t0)));
        // A bounded reservoir: long soaks keep the latest 100,000 latencies.
        latencies = latencies.concat(probe.takeLatencies()).slice(-100_000);
      }
      sampler.pause();
      acknowledged = probe.acknowledged - acked0;
      flowingSeconds = (performance.now() - t0) / 1000;
      latencies = latencies.concat(probe.takeLatencies());
    } else {
      await camera().setOpen(false);
      await settle(probe);
      send({ type: 'ready' });
      let windowStart = 0;
      let acked0 = 0;
      for await (const c of commands) {
        if (c.cmd === 'open') {
          probe.takeLatencies();
          acked0 = probe.acknowledged;
          windowStart = performance.now();
          sampler.resume();
          await camera().setOpen(true);
        } else if (c.cmd === 'close') {
          const window: WindowFigures = { acked: probe.acknowledged - acked0, seconds: (performance.now() - windowStart) / 1000, latencies: [] };
          sampler.pause();
          await camera().setOpen(false);
          await settle(probe);
          window.latencies = probe.takeLatencies();
          acknowledged += window.acked;
          flowingSeconds += window.seconds;
          latencies = latencies.concat(window.latencies);
          send({ type: 'window', window });
        } else {
          break;
        }
      }
    }
    const snap = daemon.snapshot();
    const steady = sampler.samples.slice(Math.floor(sampler.samples.length / 2)).map((s) => s.rssMb);
    return {
      fps: acknowledged / flowingSeconds,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      acknowledged,
      counters: { ...snap.counters },
      rssPeakMb: process.resourceUsage().maxRSS / 1024,
      rssSteadyMb: median(steady),
      cpuPct: sampler.cpuPct,
      cpuMsPerFrame: sampler.cpuMs / acknowledged,
      samples: sampler.samples,
      stageP50Ms: { preprocess: snap.latency.preprocess.percentile(50) ?? null, inference: snap.latency.inference.percentile(50) ?? null },
    };
  } finally {
    await daemon.stop();
  }
}
