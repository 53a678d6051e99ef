import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { balancedClassWeights } from '../src/learn/dataset.js';
import type { EmbeddedSet } from '../src/learn/embeddings.js';
import { FINETUNE_DEFAULTS as D } from '../src/learn/finetune-options.js';
import { buildHead } from '../src/learn/models.js';
import { fitStandardizer, standardize } from '../src/learn/standardize.js';
import { fitModel } from '../src/learn/train.js';

/**
 * The fine-tune's head recipe (learn/finetune.ts: standardise, dense softmax head, FINETUNE_DEFAULTS) trained on
 * chosen rows of an embedded set and scored on a validation set; the benches replay it over many holdout draws.
 */

export function pickRows(set: Pick<EmbeddedSet, 'x' | 'y'>, pick: number[], size: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(pick.length * size);
  pick.forEach((r, k) => x.set(set.x.subarray(r * size, (r + 1) * size), k * size));
  return { x, y: Int32Array.from(pick, (r) => set.y[r]!) };
}

/** Validation accuracy of one head trained with the recipe (weight decay overridable) on `train`. */
export async function headAccuracy(train: { x: Float32Array; y: Int32Array }, val: Pick<EmbeddedSet, 'x' | 'y'>, size: number, nClasses: number, weightDecay: number = D.weightDecay): Promise<number> {
  const standardizer = fitStandardizer(train.x, size);
  const head = buildHead({ embeddingSize: size, hidden: D.hidden, dropout: D.dropout, nClasses, seed: D.seed });
  try {
    await fitModel(head, { x: standardize(train.x, standardizer), sampleDims: [size], y: train.y }, undefined, {
      epochs: D.epochs, batchSize: D.batchSize, lr: D.lr, weightDecay, patience: 0, seed: D.seed, nClasses, activation: 'softmax',
      classWeights: balancedClassWeights(train.y, nClasses),
    });
    const predicted = tf.tidy(() => (head.predict(tf.tensor2d(standardize(val.x, standardizer), [val.y.length, size])) as tf.Tensor).argMax(-1).dataSync());
    return val.y.reduce((n, y, i) => n + (predicted[i] === y ? 1 : 0), 0) / val.y.length;
  } finally {
    head.dispose();
  }
}

/** "mean 97.74 min 97.08 max 98.33 ≥97 in 14/14: …" */
export function drawSummary(accuracies: number[]): string {
  const pct = (a: number): string => (a * 100).toFixed(2);
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  return `mean ${pct(mean)} min ${pct(Math.min(...accuracies))} max ${pct(Math.max(...accuracies))} ≥97 in ${accuracies.filter((a) => a >= 0.97).length}/${accuracies.length}: ${accuracies.map(pct).join(' ')}`;
}

/** The images of `<dir>/<label>/`, sorted, labelled by index into `labels`. */
export async function classFolderFiles(dir: string, labels: string[]): Promise<{ path: string; label: number }[]> {
  return (await Promise.all(labels.map(async (l, label) => (await readdir(join(dir, l))).sort().map((n) => ({ path: join(dir, l, n), label }))))).flat();
}
