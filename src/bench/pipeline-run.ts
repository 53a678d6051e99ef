import { performance } from 'node:perf_hooks';
import { configSchema } from '../config/schema.js';
import { Daemon } from '../daemon.js';
import { createLogger } from '../logger.js';
import type { MqttConnect } from '../publish/mqtt.js';
import { systemClock } from '../types.js';
import { LatencyProbe, uniqueMsClock } from './latency-probe.js';
import { median, percentile, toMb, type RssSample } from './stats.js';

/**
 * Stage (c): the real daemon (watchdog-wrapped folder replay at full speed → FramePipeline → decisions → MQTT)
 * run for a fixed time in THIS process, which the bench starts as a child so that RSS and CPU are the daemon's
 * alone. Only the camera is built here instead of from config: config caps fps at 60, the bench wants no pacing.
 */

export interface PipelineRunOptions {
  modelDir: string;
  framesDir: string;
  mqttUrl: string;
  /** Topic prefix of this run (unique per run: the bench never mixes its messages with anything else). */
  baseTopic: string;
  intraOpThreads: number;
  warmupSeconds: number;
  seconds: number;
  /** RSS/fps sample period. */
  sampleEverySeconds: number;
}

export interface PipelineFigures {
  fps: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Frames acknowledged inside the timed window, and the pipeline's own counters over the whole run. */
  acknowledged: number;
  counters: { captured: number; classified: number; dropped: number; failed: number };
  rssPeakMb: number;
  rssSteadyMb: number;
  /** CPU time of this process over the window, % of one core (200 % = both cores of a 2-core board). */
  cpuPct: number;
  /** performance.timeOrigin (process start) → first acknowledged classification, inside this process. */
  firstResultMs: number;
  samples: RssSample[];
  /** Mean of the pipeline's own per-stage timings inside the window (what each stage cost while overlapped). */
  stageP50Ms: { preprocess: number | null; inference: number | null; total: number | null };
}

export type PipelineMessage = { type: 'sample'; sample: RssSample } | { type: 'result'; figures: PipelineFigures } | { type: 'error'; message: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runPipelineBench(options: PipelineRunOptions, report: (m: PipelineMessage) => void): Promise<PipelineFigures> {
  const [{ connectAsync }, capture, folder, engine, image] = await Promise.all([
    import('mqtt'), import('../capture/create.js'), import('../models/folder.js'), import('../inference/engine.js'), import('../preprocess/image.js'),
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
  const daemon = new Daemon({
    logger, clock: systemClock, version: 'bench',
    mqttConnect: probe.wrapConnect(connectAsync as MqttConnect),
    createCamera: () => {
      const camera = capture.createWatchedSource({ logger, clock: uniqueMsClock(systemClock) }, config.camera.source, { fps: 0, loop: true }, { stallTimeoutMs: 5000 });
      camera.on('frame', (f) => probe.frameArrived(f.timestamp));
      return camera;
    },
    loadClassifier: async (dir) => engine.createClassifier({ logger }, { folder: await folder.loadModelFolder(dir), providers: ['cpu'], intraOpThreads: options.intraOpThreads }),
    preprocess: image.preprocessImage,
  }, { config, modelDir: options.modelDir });

  await daemon.start();
  try {
    while (probe.acknowledged === 0) await sleep(1);
    const firstResultMs = performance.now();
    await sleep(options.warmupSeconds * 1000);
    probe.takeLatencies();
    const startAcked = probe.acknowledged;
    const cpuStart = process.cpuUsage();
    const wallStart = performance.now();
    const samples: RssSample[] = [];
    let lastAcked = startAcked;
    let lastAt = wallStart;
    let latencies: number[] = [];
    const end = wallStart + options.seconds * 1000;
    while (performance.now() < end) {
      await sleep(Math.min(options.sampleEverySeconds * 1000, Math.max(1, end - performance.now())));
      const now = performance.now();
      const acked = probe.acknowledged;
      const sample: RssSample = { t: (now - wallStart) / 1000, rssMb: toMb(process.memoryUsage.rss()), fps: ((acked - lastAcked) * 1000) / (now - lastAt) };
      samples.push(sample);
      report({ type: 'sample', sample });
      lastAcked = acked;
      lastAt = now;
      // Keep only recent latencies in memory for long soaks: the window's percentiles come from a bounded reservoir.
      latencies = latencies.concat(probe.takeLatencies());
      if (latencies.length > 200_000) latencies = latencies.slice(-100_000);
      probe.prune();
    }
    const wallMs = performance.now() - wallStart;
    const cpu = process.cpuUsage(cpuStart);
    latencies = latencies.concat(probe.takeLatencies());
    const acknowledged = probe.acknowledged - startAcked;
    const snap = daemon.snapshot();
    const steady = samples.slice(Math.floor(samples.length / 2)).map((s) => s.rssMb);
    const figures: PipelineFigures = {
      fps: (acknowledged * 1000) / wallMs,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      acknowledged,
      counters: { ...snap.counters },
      rssPeakMb: process.resourceUsage().maxRSS / 1024,
      rssSteadyMb: median(steady),
      cpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      firstResultMs,
      samples,
      stageP50Ms: {
        preprocess: snap.latency.preprocess.percentile(50) ?? null,
        inference: snap.latency.inference.percentile(50) ?? null,
        total: snap.latency.total.percentile(50) ?? null,
      },
    };
    return figures;
  } finally {
    await daemon.stop();
  }
}
