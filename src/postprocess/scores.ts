import { ModelError } from '../errors.js';
import type { Manifest } from '../models/manifest.js';
import type { Scores } from '../types.js';

/**
 * A model's raw output → probabilities aligned with its labels.
 *
 * `output.kind` in the manifest says what the output tensor HOLDS:
 *  - `logits`: unnormalised scores; softmax is applied here (one logit with two labels: sigmoid → [1-p, p],
 *    like Keras binary classifiers trained `from_logits`).
 *  - `softmax` / `probabilities`: already a distribution (the graph ends in Softmax); used as-is.
 *  - `sigmoid`: independent per-class probabilities (multi-label, the graph ends in Sigmoid); kept per class,
 *    not renormalised. One value with two labels means [1-p, p] (p = probability of the second label).
 * A `softmax`/`probabilities`/`sigmoid` output holding values outside [0, 1] is evidently logits after all
 * (a manifest written by hand); the matching activation is then applied rather than reporting "probability 7.3".
 * Softmax and sigmoid are monotonic, so this never changes which label wins.
 */

export type OutputKind = Manifest['output']['kind'];

const RANGE_SLACK = 1e-4;

/** Numerically stable softmax (subtracts the max, so large logits do not overflow to NaN). */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Logistic sigmoid, stable for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function withinUnitRange(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!(values[i] >= -RANGE_SLACK && values[i] <= 1 + RANGE_SLACK)) return false;
  return true;
}

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));

/** True when toProbabilities would have to reinterpret this output (values outside [0,1] for a probability kind). */
export function outputLooksLikeLogits(raw: ArrayLike<number>, kind: OutputKind): boolean {
  return kind !== 'logits' && !withinUnitRange(raw);
}

export function toProbabilities(raw: ArrayLike<number>, kind: OutputKind, labels: string[]): Scores {
  for (let i = 0; i < raw.length; i++) {
    if (!Number.isFinite(raw[i])) throw new ModelError('MODEL_OUTPUT_NOT_FINITE', `model output[${i}] is ${raw[i]}; the model or its input is broken (check preprocess scale/mean/std in manifest.json)`);
  }
  const binary = raw.length === 1 && labels.length === 2;
  if (!binary && raw.length !== labels.length) {
    throw new ModelError('MODEL_OUTPUT_WIDTH', `model output has ${raw.length} values but the manifest lists ${labels.length} labels; fix labels in manifest.json`);
  }
  if (binary) {
    // (A one-wide Softmax would always say 1, so a single value under any kind is read as p of the second label.)
    const p = kind === 'logits' || !withinUnitRange(raw) ? sigmoid(raw[0]) : clamp01(raw[0]);
    return { labels: [...labels], probabilities: [1 - p, p] };
  }
  let probabilities: number[];
  if (kind === 'logits') probabilities = softmax(raw);
  else if (!withinUnitRange(raw)) probabilities = kind === 'sigmoid' ? Array.from(raw, sigmoid) : softmax(raw);
  else probabilities = Array.from(raw, clamp01);
  return { labels: [...labels], probabilities };
}

export interface RankedScore {
  label: string;
  score: number;
}

/** The k best labels, highest first; ties keep label order. k larger than the label count returns all. */
export function topK(scores: Scores, k: number): RankedScore[] {
  const ranked = scores.labels.map((label, i) => ({ label, score: scores.probabilities[i] ?? 0, i }));
  ranked.sort((a, b) => b.score - a.score || a.i - b.i);
  return ranked.slice(0, Math.max(0, Math.floor(k))).map(({ label, score }) => ({ label, score }));
}
