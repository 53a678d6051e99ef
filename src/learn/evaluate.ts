import { readFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';
import { createClassifier, type ClassifierDeps } from '../inference/engine.js';
import type { ExecutionProvider } from '../inference/types.js';
import type { Logger } from '../logger.js';
import { loadModelFolder } from '../models/folder.js';
import { preprocessSpecOf } from '../models/manifest.js';
import { evaluationFolder, readClassFolders } from './dataset.js';
import type { PreprocessFn, SkippedFile } from './dataset-load.js';
import { classificationReport, mostConfidentMistakes, type ClassificationReport, type Mistake } from './metrics.js';

/**
 * `edgecam evaluate`: runs the model folder's ONNX through the same classifier and preprocessing the
 * daemon uses (so it measures what will run), over a folder of class folders named like the model's labels.
 */
export interface EvaluateDeps {
  logger: Logger;
  preprocess: PreprocessFn;
  classifierDeps?: Partial<ClassifierDeps>;
  onProgress?: (done: number, total: number) => void;
}

export interface EvaluateOptions {
  modelDir: string;
  dataset: string;
  providers?: ExecutionProvider[];
  /** How many confidently wrong files to list. */
  mistakes?: number;
}

export interface EvaluationResult {
  report: ClassificationReport;
  mistakes: Mistake[];
  skipped: SkippedFile[];
  model: { name: string; version: string; dir: string };
  provider: string;
}

export async function evaluateModel(deps: EvaluateDeps, o: EvaluateOptions): Promise<EvaluationResult> {
  const folder = await loadModelFolder(o.modelDir);
  const labels = folder.manifest.labels;
  const { files } = await readClassFolders(await evaluationFolder(o.dataset), labels);
  const spec = preprocessSpecOf(folder.manifest);
  const classifier = await createClassifier({ logger: deps.logger, ...deps.classifierDeps }, { folder, providers: o.providers });
  const actual: number[] = [];
  const predicted: number[] = [];
  const confidence: number[] = [];
  const kept: string[] = [];
  const skipped: SkippedFile[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      let probabilities: number[];
      try {
        const tensor = await deps.preprocess(await readFile(file.path), spec);
        probabilities = (await classifier.classify(tensor)).scores.probabilities;
      } catch (err) {
        skipped.push({ path: file.path, reason: errorMessage(err) });
        deps.logger.warn({ file: file.path, err: errorMessage(err) }, 'skipping an image that cannot be classified');
        continue;
      }
      let best = 0;
      for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[best]!) best = k;
      actual.push(file.label);
      predicted.push(best);
      confidence.push(probabilities[best]!);
      kept.push(file.path);
      deps.onProgress?.(i + 1, files.length);
    }
  } finally {
    await classifier.dispose();
  }
  return {
    report: classificationReport(actual, predicted, labels),
    mistakes: mostConfidentMistakes(kept, actual, predicted, confidence, labels, o.mistakes ?? 10),
    skipped,
    model: { name: folder.manifest.name, version: folder.manifest.version, dir: folder.dir },
    provider: classifier.provider,
  };
}

/** The `--json` shape: accuracy, n, perClass, confusion, labels (+ macroF1, mostConfidentlyWrong, skipped, model). */
export function evaluationJson(r: EvaluationResult): Record<string, unknown> {
  return {
    accuracy: r.report.accuracy,
    n: r.report.n,
    perClass: r.report.perClass,
    confusion: r.report.confusion,
    labels: r.report.labels,
    macroF1: r.report.macroF1,
    mostConfidentlyWrong: r.mistakes,
    skipped: r.skipped,
    model: r.model,
  };
}
