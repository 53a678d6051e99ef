import { performance } from 'node:perf_hooks';
import type { Classifier } from '../inference/types.js';
import type { PreprocessSpec } from '../models/manifest.js';
import type { Tensor } from '../types.js';
import { median, percentile } from './stats.js';

/**
 * Stages (a) and (b) of the bench, each alone and one frame at a time, as the pipeline runs them:
 * (a) image bytes → tensor (sharp), (b) prepared tensor → scores (ONNX Runtime). Their medians give the limit the
 * whole pipeline is held against: with the two stages overlapped it cannot beat 1 / max(pre, infer).
 */

export interface StageFigures {
  /** Per-frame milliseconds, median / p90 over the timed runs. */
  p50Ms: number;
  p90Ms: number;
  runs: number;
  /** Every timed run, ms (rounds of the bench are pooled from these). */
  samples: number[];
  /** CPU time of this process per run (all its threads: sharp's and ORT's too), ms: what a run costs, load aside. */
  cpuMsPerRun: number;
}

export function stageFigures(samples: number[], cpuMsPerRun: number): StageFigures {
  return { p50Ms: median(samples), p90Ms: percentile(samples, 90), runs: samples.length, samples, cpuMsPerRun };
}

export interface StageOptions {
  /** How long to time, after warm-up. */
  seconds: number;
  /** Untimed runs first (JIT, sharp's and ORT's first-call allocations). */
  warmupRuns?: number;
}

async function timeLoop(run: (i: number) => Promise<unknown>, options: StageOptions): Promise<StageFigures> {
  for (let i = 0; i < (options.warmupRuns ?? 10); i++) await run(i);
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const deadline = performance.now() + options.seconds * 1000;
  for (let i = 0; performance.now() < deadline || times.length < 5; i++) {
    const t0 = performance.now();
    await run(i);
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  return stageFigures(times, (cpu.user + cpu.system) / 1000 / times.length);
}

export type PreprocessFn = (bytes: Uint8Array, spec: PreprocessSpec) => Promise<Tensor>;

/** (a) preprocessing alone, cycling through the frames. */
export function measurePreprocess(preprocess: PreprocessFn, frames: readonly Buffer[], spec: PreprocessSpec, options: StageOptions): Promise<StageFigures> {
  return timeLoop((i) => preprocess(frames[i % frames.length]!, spec), options);
}

/** (b) inference alone on tensors prepared beforehand (wall time of classify(): ORT plus turning logits into scores). */
export function measureInference(classifier: Classifier, tensors: readonly Tensor[], options: StageOptions): Promise<StageFigures> {
  return timeLoop((i) => classifier.classify(tensors[i % tensors.length]!), options);
}
