import { confusionSpec, curvesSpec, renderVegaLitePng } from './charts.js';
import type { ClassificationReport } from './metrics.js';
import type { FitResult } from './train.js';

/**
 * The files `edgecam train` leaves next to model.onnx: metrics.json (everything needed to judge and
 * reproduce the run), curves.png and confusion.png.
 */
export interface RunSummary {
  arch: string;
  command?: string;
  labels: string[];
  dataset: { path: string; split: 'folders' | 'split'; train: Record<string, number>; val: Record<string, number>; skipped: { path: string; reason: string }[] };
  options: Record<string, unknown>;
  backend: string;
  fit: FitResult;
  /** Report on the validation images with the restored weights. */
  val?: ClassificationReport;
  valLoss?: number;
  exportParityMaxAbsDiff?: number;
  trainSeconds: number;
  /** Transfer learning: embeddings read from the disk cache vs. computed by the backbone in this run. */
  embeddings?: { cached: number; computed: number };
  /**
   * CNN distillation: the teacher, views it labelled per epoch, how often it agreed with the folders (epoch 1), loss
   * weight, and the feature-matching weight (0 = probabilities only).
   */
  distillation?: { teacher: { name: string; version: string; sha256?: string }; views: number; teacherAgreement: number; weight: number; features?: number };
}

export function metricsJson(s: RunSummary): Record<string, unknown> {
  const best = s.fit.history.find((h) => h.epoch === s.fit.bestEpoch);
  const ips = s.fit.history.map((h) => h.imagesPerSecond).sort((a, b) => a - b);
  return {
    arch: s.arch,
    command: s.command,
    labels: s.labels,
    dataset: s.dataset,
    options: s.options,
    backend: s.backend,
    epochsRun: s.fit.history.length,
    bestEpoch: s.fit.bestEpoch,
    stoppedEarly: s.fit.stoppedEarly,
    trainSeconds: Number(s.trainSeconds.toFixed(1)),
    medianImagesPerSecond: ips.length ? Number(ips[Math.floor(ips.length / 2)]!.toFixed(1)) : null,
    best: best ?? null,
    validation: s.val ? { accuracy: s.val.accuracy, loss: s.valLoss ?? null, n: s.val.n, macroF1: s.val.macroF1, perClass: s.val.perClass, confusion: s.val.confusion } : null,
    exportParityMaxAbsDiff: s.exportParityMaxAbsDiff ?? null,
    ...(s.embeddings ? { embeddings: s.embeddings } : {}),
    ...(s.distillation ? { distillation: s.distillation } : {}),
    history: s.fit.history,
  };
}

/** Short metrics for the manifest (the full record is metrics.json). */
export function manifestMetrics(s: RunSummary): Record<string, unknown> {
  return {
    valAccuracy: s.val ? Number(s.val.accuracy.toFixed(4)) : null,
    valLoss: s.valLoss === undefined ? null : Number(s.valLoss.toFixed(4)),
    valImages: s.val?.n ?? 0,
    bestEpoch: s.fit.bestEpoch,
    trainImages: Object.values(s.dataset.train).reduce((a, b) => a + b, 0),
  };
}

export async function runArtifacts(s: RunSummary, title: string): Promise<Record<string, Uint8Array | string>> {
  const files: Record<string, Uint8Array | string> = {
    'metrics.json': `${JSON.stringify(metricsJson(s), null, 2)}\n`,
    'curves.png': await renderVegaLitePng(curvesSpec(s.fit.history, s.fit.bestEpoch, `${title}: training curves`)),
  };
  if (s.val) {
    files['confusion.png'] = await renderVegaLitePng(confusionSpec(s.labels, s.val.confusion, `${title}: validation confusion (accuracy ${(s.val.accuracy * 100).toFixed(1)}%)`));
  }
  return files;
}
