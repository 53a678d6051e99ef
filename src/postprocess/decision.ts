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

/** Everything the next frame's decision depends on. Treat as immutable. */
export interface DecisionState {
  stableLabel: string;
  /** A label waiting to replace the stable one, and since when it has been the candidate. */
  candidate?: { label: string; sinceMs: number };
  /** EMA smoothing: running scores per label. */
  ema?: Readonly<Record<string, number>>;
  /** Vote smoothing: the last M frames (top label after minConfidence, and all probabilities). */
  window: ReadonlyArray<{ label: string; probabilities: Readonly<Record<string, number>> }>;
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
  const probabilities = probabilitiesByLabel(scores);
  const [topLabel, topScore] = best(probabilities);
  const frameLabel = topLabel !== undefined && topScore >= options.minConfidence ? topLabel : UNKNOWN_LABEL;

  const { smoothed, votes, next } = smooth(state, probabilities, frameLabel, options);
  const candidateLabel = pickCandidate(smoothed, votes, options);

  const current = state.stableLabel;
  const currentHolds = current !== UNKNOWN_LABEL && (smoothed[current] ?? 0) >= exitFor(current, options);

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
    stableConfidence: stableLabel === UNKNOWN_LABEL ? 0 : (smoothed[stableLabel] ?? 0),
    changed,
    smoothed,
  };
  if (changed) decision.previous = current;
  return { state: { ...next, stableLabel, candidate }, decision };
}

/** The `enter` threshold of a class: its override, else the global one (never below minConfidence). */
export function enterFor(label: string, options: DecisionOptions): number {
  return Math.max(options.thresholds[label] ?? options.hysteresis.enter, options.minConfidence);
}

/** The `exit` threshold of a class; never above its `enter`, so a class that entered can hold. */
export function exitFor(label: string, options: DecisionOptions): number {
  return Math.min(options.hysteresis.exit, enterFor(label, options));
}

function probabilitiesByLabel(scores: Scores): Record<string, number> {
  if (scores.labels.length !== scores.probabilities.length) {
    throw new EdgecamError(
      'DECISION_BAD_SCORES',
      `Scores have ${scores.labels.length} labels but ${scores.probabilities.length} probabilities; check the model's manifest labels.`,
    );
  }
  const out: Record<string, number> = {};
  scores.labels.forEach((label, i) => {
    const p = scores.probabilities[i];
    // A NaN from a broken model must not win or poison the running average.
    out[label] = typeof p === 'number' && Number.isFinite(p) ? p : 0;
  });
  return out;
}

function best(scores: Record<string, number>): [string | undefined, number] {
  let label: string | undefined;
  let score = 0;
  for (const [l, s] of Object.entries(scores)) {
    if (label === undefined || s > score) [label, score] = [l, s];
  }
  return [label, score];
}

function smooth(
  state: DecisionState,
  probabilities: Record<string, number>,
  frameLabel: string,
  options: DecisionOptions,
): { smoothed: Record<string, number>; votes?: Record<string, number>; next: Pick<DecisionState, 'ema' | 'window'> } {
  const labels = Object.keys(probabilities);
  if (options.smoothing.method === 'ema') {
    const { alpha } = options.smoothing;
    const smoothed: Record<string, number> = {};
    for (const label of labels) {
      const previous = state.ema?.[label];
      const p = probabilities[label] ?? 0;
      smoothed[label] = previous === undefined ? p : alpha * p + (1 - alpha) * previous;
    }
    return { smoothed, next: { ema: smoothed, window: [] } };
  }
  const window = [...state.window, { label: frameLabel, probabilities }].slice(-options.smoothing.window);
  const smoothed: Record<string, number> = {};
  const votes: Record<string, number> = {};
  for (const label of labels) {
    // Mean over the frames seen so far, so a short window at start-up is not diluted by missing frames.
    smoothed[label] = window.reduce((sum, f) => sum + (f.probabilities[label] ?? 0), 0) / window.length;
    votes[label] = window.filter((f) => f.label === label).length;
  }
  return { smoothed, votes, next: { window } };
}

/** The label that would become stable if the current one let go: the best class passing `enter`, else unknown. */
function pickCandidate(smoothed: Record<string, number>, votes: Record<string, number> | undefined, options: DecisionOptions): string {
  let chosen = UNKNOWN_LABEL;
  let chosenScore = -1;
  for (const [label, score] of Object.entries(smoothed)) {
    if (score < enterFor(label, options)) continue;
    if (options.smoothing.method === 'vote' && (votes?.[label] ?? 0) < options.smoothing.required) continue;
    if (score > chosenScore) [chosen, chosenScore] = [label, score];
  }
  return chosen;
}
