import { z } from 'zod';
import { EdgecamError } from '../errors.js';
import { decisionOptionsSchema, type DecisionOptions } from '../postprocess/decision.js';
import type { RequestRouter } from '../publish/requests.js';

/** What the request handlers may ask of the daemon. */
export interface DaemonControl {
  status(): Record<string, unknown>;
  capture(request: { label?: string; source?: string }): Promise<Record<string, unknown>>;
  reloadModel(request: { dir?: string }): Promise<Record<string, unknown>>;
  setThreshold(request: SetThresholdRequest): Record<string, unknown>;
}

const probability = z.number().min(0).max(1);

/**
 * `set-threshold` payloads (runtime only, not written back to the config file):
 *   {"label": "cat", "threshold": 0.8}    per-class enter threshold
 *   {"label": "cat", "threshold": null}   remove the per-class threshold
 *   {"minConfidence": 0.4} / {"enter": 0.7, "exit": 0.5} / {"minDwellMs": 3000}
 */
export const setThresholdSchema = z.object({
  label: z.string().min(1).max(200).optional(),
  threshold: probability.nullable().optional(),
  minConfidence: probability.optional(),
  enter: probability.optional(),
  exit: probability.optional(),
  minDwellMs: z.number().int().min(0).max(3_600_000).optional(),
}).strict().superRefine((r, ctx) => {
  if ((r.label === undefined) !== (r.threshold === undefined)) {
    ctx.addIssue({ code: 'custom', path: [r.label === undefined ? 'label' : 'threshold'], message: 'label and threshold go together, e.g. {"label":"cat","threshold":0.8}' });
  }
  if (Object.values(r).every((v) => v === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'nothing to set; send {"label","threshold"}, minConfidence, enter, exit or minDwellMs' });
  }
});
export type SetThresholdRequest = z.output<typeof setThresholdSchema>;

/** Registers status, capture, reload-model and set-threshold on the router (before router.start()). */
export function registerDaemonRequests(router: RequestRouter, control: DaemonControl): void {
  router.register('status', z.object({}).strict(), async () => control.status());
  // `source` says who asked: Home Assistant's "Capture frame" button sends {"source":"homeassistant"} (publish/discovery.ts).
  router.register('capture', z.object({ label: z.string().min(1).max(100).optional(), source: z.string().min(1).max(100).optional() }).strict(), (r) => control.capture(r));
  router.register('reload-model', z.object({ dir: z.string().min(1).optional() }).strict(), (r) => control.reloadModel(r));
  router.register('set-threshold', setThresholdSchema, async (r) => control.setThreshold(r));
}

/** The decision options after a set-threshold request; rejects combinations the decision schema refuses (exit > enter). */
export function applyThresholdChange(o: DecisionOptions, r: SetThresholdRequest): DecisionOptions {
  const thresholds = { ...o.thresholds };
  if (r.label !== undefined) {
    if (r.threshold === null || r.threshold === undefined) delete thresholds[r.label];
    else thresholds[r.label] = r.threshold;
  }
  const parsed = decisionOptionsSchema.safeParse({
    ...o, thresholds, minConfidence: r.minConfidence ?? o.minConfidence, minDwellMs: r.minDwellMs ?? o.minDwellMs,
    hysteresis: { enter: r.enter ?? o.hysteresis.enter, exit: r.exit ?? o.hysteresis.exit },
  });
  if (!parsed.success) throw new EdgecamError('REQUEST_INVALID', `Rejected: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
