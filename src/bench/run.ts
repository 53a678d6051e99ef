import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { EdgecamError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { startBenchBroker } from './broker.js';
import { loadFrames, synthesizeFrames } from './frames.js';
import { PipelineChild } from './pipeline-child-process.js';
import type { PipelineFigures, PipelineRunOptions } from './pipeline-run.js';
import { measureInference, measurePreprocess, stageFigures, type StageFigures } from './stages.js';
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
  /** Where the pipeline runs ONNX Runtime (default: as `edgecam run` does). */
  inference?: 'worker' | 'main';
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
  /** pipeline_fps / limit_fps of each round (windows mode): how much the figure moved with background load. */
  roundRatios: number[];
  broker: string;
}

export interface BenchDeps {
  logger: Logger;
  /** Human-readable progress and results (stdout, or stderr under --json). */
  print: (line: string) => void;
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

    const tensors = await Promise.all(frames.slice(0, 16).map((f) => image.preprocessImage(f, spec)));
    // ONNX Runtime threading chosen by measurement: 1 and 2 intra-op threads (no spinning) on the same tensors.
    const infer: Record<number, StageFigures> = {};
    for (const threads of [...new Set([1, 2, options.intraOpThreads])]) {
      const probe = await engine.createClassifier({ logger: deps.logger }, { folder: model, providers: ['cpu'], intraOpThreads: threads });
      try {
        infer[threads] = await measureInference(probe, tensors, { seconds: Math.min(3, options.seconds) });
      } finally {
        await probe.dispose();
      }
      print(`(b) inference alone, ${threads} intra-op thread${threads > 1 ? 's' : ''} (no spinning): p50 ${infer[threads]!.p50Ms.toFixed(2)} ms, p90 ${infer[threads]!.p90Ms.toFixed(2)} ms (${infer[threads]!.runs} runs)`);
    }
    const classifier = await engine.createClassifier({ logger: deps.logger }, { folder: model, providers: ['cpu'], intraOpThreads: options.intraOpThreads });
    const soakSeconds = options.soakMinutes ? options.soakMinutes * 60 : undefined;
    const runOptions: PipelineRunOptions = {
      modelDir: options.modelDir, framesDir, mqttUrl: broker.url, baseTopic: `edgecam-bench-${randomBytes(4).toString('hex')}`,
      intraOpThreads: options.intraOpThreads, inference: options.inference ?? 'main', mode: soakSeconds ? 'continuous' : 'windows', warmupSeconds: soakSeconds ? 10 : 2,
      seconds: soakSeconds ?? 0, sampleEverySeconds: soakSeconds ? 10 : 0.5,
    };
    let pre: StageFigures;
    let inferUsed: StageFigures;
    let pipeline: PipelineFigures;
    const roundRatios: number[] = [];
    try {
      if (soakSeconds) {
        pre = await measurePreprocess(image.preprocessImage, frames, spec, { seconds: options.seconds });
        inferUsed = await measureInference(classifier, tensors, { seconds: options.seconds });
        print(`(c) soak: the whole pipeline for ${options.soakMinutes} min after 10 s warm-up, a sample every 10 s…`);
        pipeline = await new PipelineChild(runOptions, (s) => print(`  soak t=${s.t.toFixed(0).padStart(5)} s  rss ${s.rssMb.toFixed(1)} MB  fps ${s.fps.toFixed(1)}`)).result();
      } else {
        // Rounds of (a) 1 s, (b) 1 s, (c) 2 s: the shared machine's background load hits all three alike.
        const rounds = Math.max(3, Math.ceil(options.seconds / 2));
        print(`(a)/(b)/(c) in ${rounds} rounds of preprocess 1 s, inference 1 s, whole pipeline 2 s (daemon in a child process, after 2 s warm-up)…`);
        const child = new PipelineChild(runOptions, () => undefined);
        try {
          await child.ready();
          const preSamples: number[] = [];
          const inferSamples: number[] = [];
          const cpu = { pre: 0, infer: 0 };
          for (let r = 0; r < rounds; r++) {
            const p = await measurePreprocess(image.preprocessImage, frames, spec, { seconds: 1, warmupRuns: 2 });
            const i = await measureInference(classifier, tensors, { seconds: 1, warmupRuns: 2 });
            child.send({ cmd: 'open' });
            await new Promise((res) => setTimeout(res, 2000));
            child.send({ cmd: 'close' });
            const w = await child.window();
            preSamples.push(...p.samples);
            inferSamples.push(...i.samples);
            cpu.pre += p.cpuMsPerRun * p.runs;
            cpu.infer += i.cpuMsPerRun * i.runs;
            roundRatios.push((w.acked / w.seconds) / (1000 / Math.max(p.p50Ms, i.p50Ms)));
          }
          child.send({ cmd: 'finish' });
          pipeline = await child.result();
          pre = stageFigures(preSamples, cpu.pre / preSamples.length);
          inferUsed = stageFigures(inferSamples, cpu.infer / inferSamples.length);
        } finally {
          child.kill();
        }
      }
    } finally {
      await classifier.dispose();
    }
    const limitFps = 1000 / Math.max(pre.p50Ms, inferUsed.p50Ms);
    print(`(a) preprocess alone: p50 ${pre.p50Ms.toFixed(2)} ms, p90 ${pre.p90Ms.toFixed(2)} ms (${pre.runs} frames); CPU ${pre.cpuMsPerRun.toFixed(2)} ms/frame`);
    print(`(b) inference alone, ${options.intraOpThreads} thread(s), as the pipeline runs it: p50 ${inferUsed.p50Ms.toFixed(2)} ms, p90 ${inferUsed.p90Ms.toFixed(2)} ms (${inferUsed.runs} runs); CPU ${inferUsed.cpuMsPerRun.toFixed(2)} ms/run`);
    if (roundRatios.length) print(`    ratio per round: ${roundRatios.map((x) => x.toFixed(2)).join(', ')}`);
    const c = pipeline.counters;
    print(`(c) pipeline (ONNX Runtime on ${runOptions.inference === 'worker' ? 'a worker thread' : 'the event-loop thread'}): ${pipeline.fps.toFixed(1)} frames/s acknowledged; latency arrival→PUBACK p50 ${pipeline.latencyP50Ms.toFixed(2)} ms, p99 ${pipeline.latencyP99Ms.toFixed(2)} ms; ` +
      `stages while overlapped p50: preprocess ${pipeline.stageP50Ms.preprocess?.toFixed(2)} ms, inference ${pipeline.stageP50Ms.inference?.toFixed(2)} ms; ` +
      `frames captured ${c.captured}, classified ${c.classified}, dropped by backpressure ${c.dropped}, failed ${c.failed}`);
    print(`    RSS peak ${pipeline.rssPeakMb.toFixed(1)} MB, steady ${pipeline.rssSteadyMb.toFixed(1)} MB; CPU ${pipeline.cpuPct.toFixed(0)} % of one core (${os.cpus().length} cores), ${pipeline.cpuMsPerFrame.toFixed(2)} ms per acknowledged frame vs ${(pre.cpuMsPerRun + inferUsed.cpuMsPerRun).toFixed(2)} ms for the stages alone`);

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
    const report: BenchReport = { figures, pipeline, pre, infer: { ...infer, [options.intraOpThreads]: inferUsed }, cpuPct: pipeline.cpuPct, broker: broker.kind, roundRatios };
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
