import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgecamError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { startBenchBroker } from './broker.js';
import { loadFrames, synthesizeFrames } from './frames.js';
import type { PipelineFigures, PipelineMessage, PipelineRunOptions } from './pipeline-run.js';
import { measureInference, measurePreprocess, type StageFigures } from './stages.js';
import { measureStartup } from './startup.js';
import { median, round, rssGrowth, type RssSample } from './stats.js';

/**
 * `edgecam bench`: (a) preprocessing alone, (b) inference alone on prepared tensors (1 and 2 ORT threads),
 * (c) the whole daemon in a child process (folder replay at full speed → MQTT PUBACK), startup of `edgecam run`,
 * and optionally a soak. Figures are printed; the JSON line carries exactly the keys issue 7 names.
 */

export interface BenchOptions {
  modelDir: string;
  /** Folder of images; unset: synthesized 640×480 JPEGs. */
  framesDir?: string;
  /** Timed seconds per stage (a, b, c). */
  seconds: number;
  mqttUrl?: string;
  /** Soak: run stage (c) this many minutes, sampling every 10 s. */
  soakMinutes?: number;
  /** ORT intra-op threads of the pipeline (stage b is measured with 1 and 2 either way). */
  intraOpThreads: number;
  /** How many `edgecam run` starts to time (median reported). */
  startupRuns?: number;
}

/** The JSON line of `edgecam bench --json`, keys exactly as issue 7 lists them. */
export interface BenchFigures {
  pre_ms: number; infer_ms: number; limit_fps: number; pipeline_fps: number; ratio: number;
  latency_p50_ms: number; latency_p99_ms: number; rss_peak_mb: number; rss_steady_mb: number; startup_ms: number;
}

export interface BenchReport {
  figures: BenchFigures;
  pipeline: PipelineFigures;
  pre: StageFigures;
  infer: Record<number, StageFigures>;
  cpuPct: number;
  soak?: { minutes: number; samples: RssSample[]; baselineMb: number; endMb: number; growthPct: number };
  broker: string;
}

export interface BenchDeps {
  logger: Logger;
  /** Human-readable progress and results (stdout, or stderr under --json). */
  print: (line: string) => void;
}

const CHILD = fileURLToPath(new URL('./pipeline-child.js', import.meta.url));

function runPipelineChild(options: PipelineRunOptions, onSample: (s: RssSample) => void): Promise<PipelineFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    let settled = false;
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('message', (m: PipelineMessage) => {
      if (m.type === 'sample') onSample(m.sample);
      else if (m.type === 'result') { settled = true; resolve(m.figures); }
      else { settled = true; reject(new EdgecamError('BENCH_PIPELINE', `the pipeline run failed: ${m.message}`)); }
    });
    child.on('exit', (code) => {
      if (!settled) reject(new EdgecamError('BENCH_PIPELINE', `the pipeline process exited with code ${code} before reporting: ${stderr.trim().slice(-1500)}`));
    });
  });
}

export async function runBench(deps: BenchDeps, options: BenchOptions): Promise<BenchReport> {
  const { print } = deps;
  const [folder, engine, image, manifestMod] = await Promise.all([
    import('../models/folder.js'), import('../inference/engine.js'), import('../preprocess/image.js'), import('../models/manifest.js'),
  ]);
  const model = await folder.loadModelFolder(options.modelDir);
  const spec = manifestMod.preprocessSpecOf(model.manifest);
  const scratch = await mkdtemp(join(os.tmpdir(), 'edgecam-bench-'));
  const broker = await startBenchBroker({ logger: deps.logger }, options.mqttUrl);
  try {
    const framesDir = options.framesDir ?? join(scratch, 'frames');
    if (!options.framesDir) await synthesizeFrames(framesDir, 16);
    const { frames } = await loadFrames(framesDir);
    print(`model ${model.manifest.name} ${model.manifest.version} (${model.manifest.labels.length} classes, input ${spec.size.join('×')}); ${frames.length} frames from ${options.framesDir ?? 'synthesized 640×480 JPEGs'}; broker ${broker.kind} ${broker.url}`);

    const stage = { seconds: options.seconds };
    const pre = await measurePreprocess(image.preprocessImage, frames, spec, stage);
    print(`(a) preprocess alone: p50 ${pre.p50Ms.toFixed(2)} ms, p90 ${pre.p90Ms.toFixed(2)} ms (${pre.runs} frames)`);
    const tensors = await Promise.all(frames.slice(0, 16).map((f) => image.preprocessImage(f, spec)));
    const infer: Record<number, StageFigures> = {};
    for (const threads of [...new Set([1, 2, options.intraOpThreads])]) {
      const classifier = await engine.createClassifier({ logger: deps.logger }, { folder: model, providers: ['cpu'], intraOpThreads: threads });
      try {
        infer[threads] = await measureInference(classifier, tensors, stage);
      } finally {
        await classifier.dispose();
      }
      print(`(b) inference alone, ${threads} intra-op thread${threads > 1 ? 's' : ''} (no spinning): p50 ${infer[threads]!.p50Ms.toFixed(2)} ms, p90 ${infer[threads]!.p90Ms.toFixed(2)} ms (${infer[threads]!.runs} runs)`);
    }
    const inferUsed = infer[options.intraOpThreads]!;
    const limitFps = 1000 / Math.max(pre.p50Ms, inferUsed.p50Ms);

    const soakSeconds = options.soakMinutes ? options.soakMinutes * 60 : undefined;
    const runOptions: PipelineRunOptions = {
      modelDir: options.modelDir, framesDir, mqttUrl: broker.url, baseTopic: `edgecam-bench-${randomBytes(4).toString('hex')}`,
      intraOpThreads: options.intraOpThreads, warmupSeconds: soakSeconds ? 10 : Math.min(3, options.seconds),
      seconds: soakSeconds ?? options.seconds, sampleEverySeconds: soakSeconds ? 10 : 0.5,
    };
    print(`(c) whole pipeline, ${runOptions.seconds} s after ${runOptions.warmupSeconds} s warm-up${soakSeconds ? ' (soak: a sample every 10 s)' : ''}…`);
    const pipeline = await runPipelineChild(runOptions, (s) => {
      if (soakSeconds) print(`  soak t=${s.t.toFixed(0).padStart(5)} s  rss ${s.rssMb.toFixed(1)} MB  fps ${s.fps.toFixed(1)}`);
    });
    const c = pipeline.counters;
    print(`(c) pipeline: ${pipeline.fps.toFixed(1)} frames/s acknowledged; latency arrival→PUBACK p50 ${pipeline.latencyP50Ms.toFixed(2)} ms, p99 ${pipeline.latencyP99Ms.toFixed(2)} ms; ` +
      `stages while overlapped p50: preprocess ${pipeline.stageP50Ms.preprocess?.toFixed(2)} ms, inference ${pipeline.stageP50Ms.inference?.toFixed(2)} ms; ` +
      `frames captured ${c.captured}, classified ${c.classified}, dropped by backpressure ${c.dropped}, failed ${c.failed}`);
    print(`    RSS peak ${pipeline.rssPeakMb.toFixed(1)} MB, steady ${pipeline.rssSteadyMb.toFixed(1)} MB; CPU ${pipeline.cpuPct.toFixed(0)} % of one core (${os.cpus().length} cores)`);

    const startups: number[] = [];
    for (let i = 0; i < (options.startupRuns ?? 3); i++) {
      startups.push(await measureStartup({ modelDir: options.modelDir, framesDir, mqttUrl: broker.url, intraOpThreads: options.intraOpThreads }));
    }
    const startupMs = median(startups);
    print(`startup of \`edgecam run\` (spawn → first classification on the broker): median ${startupMs.toFixed(0)} ms of ${startups.map((s) => s.toFixed(0)).join(', ')}`);

    const figures: BenchFigures = {
      pre_ms: round(pre.p50Ms), infer_ms: round(inferUsed.p50Ms), limit_fps: round(limitFps, 1), pipeline_fps: round(pipeline.fps, 1),
      ratio: round(pipeline.fps / limitFps, 3), latency_p50_ms: round(pipeline.latencyP50Ms), latency_p99_ms: round(pipeline.latencyP99Ms),
      rss_peak_mb: round(pipeline.rssPeakMb, 1), rss_steady_mb: round(pipeline.rssSteadyMb, 1), startup_ms: round(startupMs, 0),
    };
    const report: BenchReport = { figures, pipeline, pre, infer, cpuPct: pipeline.cpuPct, broker: broker.kind };
    if (soakSeconds) {
      const growth = rssGrowth(pipeline.samples, Math.min(60, soakSeconds / 5));
      report.soak = { minutes: options.soakMinutes!, samples: pipeline.samples, ...growth };
      print(`soak ${options.soakMinutes} min: steady RSS ${growth.baselineMb.toFixed(1)} → ${growth.endMb.toFixed(1)} MB, growth ${growth.growthPct.toFixed(2)} % (target ≤ 5 %); fps first/last sample ${pipeline.samples[0]?.fps.toFixed(1)} / ${pipeline.samples.at(-1)?.fps.toFixed(1)}`);
    }
    printTargets(print, figures);
    return report;
  } finally {
    await broker.stop().catch((err: unknown) => deps.logger.warn({ err: errorMessage(err) }, 'stopping the bench broker failed'));
    await rm(scratch, { recursive: true, force: true });
  }
}

function printTargets(print: (line: string) => void, f: BenchFigures): void {
  const rows: [string, boolean, string][] = [
    ['ratio ≥ 0.85', f.ratio >= 0.85, `limit ${f.limit_fps} fps = 1 / max(pre ${f.pre_ms}, infer ${f.infer_ms} ms); pipeline ${f.pipeline_fps} fps; ratio ${f.ratio}`],
    ['latency p50 ≤ 1.3 × (pre + infer)', f.latency_p50_ms <= 1.3 * (f.pre_ms + f.infer_ms), `${f.latency_p50_ms} ms vs ${round(1.3 * (f.pre_ms + f.infer_ms))} ms (p99 ${f.latency_p99_ms} ms)`],
    ['steady RSS ≤ 150 MB', f.rss_steady_mb <= 150, `${f.rss_steady_mb} MB (peak ${f.rss_peak_mb} MB)`],
    ['startup ≤ 1.5 s', f.startup_ms <= 1500, `${f.startup_ms} ms`],
  ];
  print('targets:');
  for (const [name, met, detail] of rows) print(`  ${met ? 'met   ' : 'MISSED'} ${name}: ${detail}`);
}
