import { decisionOptionsSchema, type DecisionOptions } from '../postprocess/decision.js';
import type { Config } from './schema.js';

/** The decision options postprocess/decision.ts wants, from the flat config section. */
export function decisionOptionsOf(d: Config['decision']): DecisionOptions {
  return decisionOptionsSchema.parse({
    minConfidence: d.minConfidence,
    thresholds: d.thresholds,
    smoothing: d.smoothing === 'ema' ? { method: 'ema', alpha: d.emaAlpha } : { method: 'vote', window: d.window, required: d.votes },
    hysteresis: { enter: d.enter, exit: d.exit },
    minDwellMs: d.minDwellMs,
  });
}
