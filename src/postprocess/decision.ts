import { z } from 'zod';
import { EdgecamError } from '../errors.js';
import type { Scores } from '../types.js';

/**
 * Turning per-frame scores into a label a pet door can act on, as pure state transitions
 * (tested frame by frame, no timers: the caller passes `nowMs`).
 *
 *   scores ─▶ smoothing (N-of-M vote or EMA) ─▶ candidate (passes `enter`) ─▶ dwell ─▶ stable label
 *
 * The stable label is kept while its smoothed confidence stays at or above `exit`; only once it falls
 * below does a candidate get the chance to replace it, and only after holding for `minDwellMs`. The gap
 * between `enter` and `exit` (hysteresis) plus the dwell time is what stops flapping at a threshold.
 */

export const UNKNOWN_LABEL = 'unknown';

export const decisionOptionsSchema = z.object({
  /** Below this (per-frame top score, and smoothed score for candidates) the answer is `unknown`. */
  minConfidence: z.number().min(0).max(1).default(0.5),
  /** Per-class `enter` threshold overriding `hysteresis.enter`, e.g. `{ cat: 0.8 }`. */
  thresholds: z.record(z.string(), z.number().min(0).max(1)).default({}),
  smoothing: z.discriminatedUnion('method', [
    z.object({
      method: z.literal('vote'),
      /** Frames looked at (M). */
      window: z.number().int().min(1).max(1000),
      /** Frames in the window whose top label must agree (N). */
      required: z.number().int().min(1),
    }).strict().refine((v) => v.required <= v.window, 'smoothing.required must not exceed smoothing.window'),
    z.object({
      method: z.literal('ema'),
      /** Weight of the newest frame, 0 < alpha ≤ 1 (1 = no smoothing). */
      alpha: z.number().gt(0).max(1),
    }).strict(),
  ]).default({ method: 'vote', window: 5, required: 3 }),
  hysteresis: z.object({
    enter: z.number().min(0).max(1),
    exit: z.number().min(0).max(1),
  }).strict().refine((h) => h.exit <= h.enter, 'hysteresis.exit must be ≤ hysteresis.enter').default({ enter: 0.7, exit: 0.5 }),
  minDwellMs: z.number().int().min(0).default(1000),
}).strict();

export type DecisionOptions = z.output<typeof decisionOptionsSchema>;
export type DecisionOptionsInput = z.input<typeof decisionOptionsSchema>;

/**
 * Everything the next frame's decision depends on. Treat as immutable (each step returns fresh arrays).
 * Running scores are kept per label *index* in typed arrays: with a 1000-class model, per-label objects cost
 * milliseconds per frame, arrays microseconds.
 */
export interface DecisionState {
  stableLabel: string;
  /** A label waiting to replace the stable one, and since when it has been the candidate. */
  candidate?: { label: string; sinceMs: number };
  /** The label order the arrays below are indexed by (the labels of the last frame's scores). */
  labels?: readonly string[];
  /** EMA smoothing: running score per label index (NaN: no score for that label yet). */
  ema?: Float64Array;
  /** Vote smoothing: the last M frames (top label after minConfidence, and all probabilities by label index). */
  window: ReadonlyArray<{ label: string; probabilities: Float64Array }>;
}

export interface Decision {
  /** This frame's top label, or `unknown` when its score is below minConfidence. */
  label: string;
  /** This frame's top score. */
  confidence: number;
  /** The debounced answer to publish. */
  stableLabel: string;
  /** Smoothed confidence of the stable label (0 while it is `unknown`). */
  stableConfidence: number;
  /** True on the frame where the stable label changed. */
  changed: boolean;
  /** The stable label before this frame, when it changed. */
  previous?: string;
  /** Smoothed score per label. */
  smoothed: Record<string, number>;
}

export function initialDecisionState(): DecisionState {
  return { stableLabel: UNKNOWN_LABEL, window: [] };
}

export function stepDecision(
  state: DecisionState,
  scores: Scores,
  nowMs: number,
  options: DecisionOptions,
): { state: DecisionState; decision: Decision } {
  const { labels } = scores;
  const probabilities = sanitizedProbabilities(scores);
  const top = indexOfBest(probabilities);
  const topScore = top < 0 ? 0 : probabilities[top]!;
  const frameLabel = top >= 0 && topScore >= options.minConfidence ? labels[top]! : UNKNOWN_LABEL;

  const previous = sameLabels(state.labels, labels) ? state : remapped(state, labels);
  const { smoothed, votes, next } = smooth(previous, probabilities, frameLabel, options);
  const candidateLabel = pickCandidate(labels, smoothed, votes, options);
  const smoothedOf = (label: string): number => {
    const i = label === UNKNOWN_LABEL ? -1 : labels.indexOf(label);
    return i < 0 ? 0 : smoothed[i]!;
  };

  const current = state.stableLabel;
  const currentHolds = current !== UNKNOWN_LABEL && smoothedOf(current) >= exitFor(current, options);

  let stableLabel = current;
  let candidate: DecisionState['candidate'];
  if (!currentHolds && candidateLabel !== current) {
    const sinceMs = state.candidate?.label === candidateLabel ? state.candidate.sinceMs : nowMs;
    if (nowMs - sinceMs >= options.minDwellMs) {
      stableLabel = candidateLabel;
    } else {
      candidate = { label: candidateLabel, sinceMs };
    }
  }

  const changed = stableLabel !== current;
  const decision: Decision = {
    label: frameLabel,
    confidence: topScore,
    stableLabel,
    stableConfidence: stableLabel === UNKNOWN_LABEL ? 0 : smoothedOf(stableLabel),
    changed,
    smoothed: {},
  };
  // Built on first read: a 1000-key object per frame costs more than the smoothing, and only the web view and
  // captures read it. Enumerable, so spreading, JSON and deepEqual see it like a plain property.
  Object.defineProperty(decision, 'smoothed', {
    enumerable: true,
    configurable: true,
    get(this: Decision) {
      const value = byLabel(labels, smoothed);
      Object.defineProperty(this, 'smoothed', { value, enumerable: true, writable: true, configurable: true });
      return value;
    },
  });
  if (changed) decision.previous = current;
  return { state: { ...next, labels, stableLabel, candidate }, decision };
}

/** The `enter` threshold of a class: its override, else the global one (never below minConfidence). */
export function enterFor(label: string, options: DecisionOptions): number {
  return Math.max(options.thresholds[label] ?? options.hysteresis.enter, options.minConfidence);
}

/** The `exit` threshold of a class; never above its `enter`, so a class that entered can hold. */
export function exitFor(label: string, options: DecisionOptions): number {
  return Math.min(options.hysteresis.exit, enterFor(label, options));
}

function sanitizedProbabilities(scores: Scores): Float64Array {
  if (scores.labels.length !== scores.probabilities.length) {
    throw new EdgecamError(
      'DECISION_BAD_SCORES',
      `Scores have ${scores.labels.length} labels but ${scores.probabilities.length} probabilities; check the model's manifest labels.`,
    );
  }
  const out = new Float64Array(scores.probabilities.length);
  for (let i = 0; i < out.length; i++) {
    const p = scores.probabilities[i];
    // A NaN from a broken model must not win or poison the running average.
    out[i] = typeof p === 'number' && Number.isFinite(p) ? p : 0;
  }
  return out;
}

/** Index of the highest score (the first one on ties), -1 when there are none. */
function indexOfBest(values: Float64Array): number {
  let best = -1;
  for (let i = 0; i < values.length; i++) if (best < 0 || values[i]! > values[best]!) best = i;
  return best;
}

function sameLabels(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === b) return true;
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The state re-indexed for another label list (a model swap): scores follow their label by name; a label the old
 * state never saw has no EMA history (NaN) and counts 0 in the vote window, as a missing key did before arrays.
 */
function remapped(state: DecisionState, labels: readonly string[]): DecisionState {
  const old = new Map((state.labels ?? []).map((label, i) => [label, i]));
  const move = (values: Float64Array, missing: number): Float64Array =>
    Float64Array.from(labels, (label) => {
      const i = old.get(label);
      return i === undefined ? missing : values[i]!;
    });
  return {
    ...state,
    labels,
    ...(state.ema ? { ema: move(state.ema, Number.NaN) } : {}),
    window: state.window.map((f) => ({ label: f.label, probabilities: move(f.probabilities, 0) })),
  };
}

function byLabel(labels: readonly string[], values: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < labels.length; i++) out[labels[i]!] = values[i]!;
  return out;
}

function smooth(
  state: DecisionState,
  probabilities: Float64Array,
  frameLabel: string,
  options: DecisionOptions,
): { smoothed: Float64Array; votes?: Map<string, number>; next: Pick<DecisionState, 'ema' | 'window'> } {
  const n = probabilities.length;
  if (options.smoothing.method === 'ema') {
    const { alpha } = options.smoothing;
    const previous = state.ema;
    const smoothed = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const before = previous?.[i];
      const p = probabilities[i]!;
      smoothed[i] = before === undefined || Number.isNaN(before) ? p : alpha * p + (1 - alpha) * before;
    }
    return { smoothed, next: { ema: smoothed, window: [] } };
  }
  const window = [...state.window, { label: frameLabel, probabilities }].slice(-options.smoothing.window);
  // Mean over the frames seen so far, so a short window at start-up is not diluted by missing frames.
  const smoothed = new Float64Array(n);
  for (const f of window) for (let i = 0; i < n; i++) smoothed[i] += f.probabilities[i]!;
  for (let i = 0; i < n; i++) smoothed[i] /= window.length;
  const votes = new Map<string, number>();
  for (const f of window) votes.set(f.label, (votes.get(f.label) ?? 0) + 1);
  return { smoothed, votes, next: { window } };
}

/** The label that would become stable if the current one let go: the best class passing `enter`, else unknown. */
function pickCandidate(labels: readonly string[], smoothed: Float64Array, votes: Map<string, number> | undefined, options: DecisionOptions): string {
  // No class can enter below the lowest threshold, so most of a 1000-class model is skipped without a lookup.
  const lowestEnter = Math.max(Math.min(options.hysteresis.enter, ...Object.values(options.thresholds)), options.minConfidence);
  let chosen = UNKNOWN_LABEL;
  let chosenScore = -1;
  for (let i = 0; i < labels.length; i++) {
    const score = smoothed[i]!;
    if (score < lowestEnter) continue;
    const label = labels[i]!;
    if (score < enterFor(label, options)) continue;
    if (options.smoothing.method === 'vote' && (votes?.get(label) ?? 0) < options.smoothing.required) continue;
    if (score > chosenScore) [chosen, chosenScore] = [label, score];
  }
  return chosen;
}
