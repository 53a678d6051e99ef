import { join } from 'node:path';
import { TrainingError } from './errors.js';
import type { FinetuneOptions } from './finetune.js';

/** Defaults shared by `edgecam finetune` and the daemon's `finetune` request. */
// A linear head on standardised embeddings: on pets (MobileNetV2 int8) it scored within one val image of a 128-unit
// hidden layer (95.8 vs 96.3 %) in half the time (7 vs 14 s of training on this machine).
// Weight decay 0.1 and the mirrored embedding of every training frame (squash-resized backbone, 40 epochs, pets/val):
// `edgecam train` heads on random 80 % of pets/train scored 97.1-97.9 % over 4 seeds vs 95.4 % with neither; fine-tune
// heads over 14 holdout draws of bench/learning-loop's frames (bench/finetune-splits) 96.67 % mean (95.4-97.5, ≥ 97 %
// in 8 of 14) vs 96.37 % (1 of 14) with neither.
export const FINETUNE_DEFAULTS = { holdoutShare: 0.2, margin: 0, epochs: 40, batchSize: 32, lr: 0.001, hidden: 0, dropout: 0.2, weightDecay: 0.1, mirror: true, seed: 1 } as const;

/** The embedding cache lives beside the collected frames: it is derived from them, and goes when they go. */
export function defaultCacheDir(dataDir: string): string {
  return join(dataDir, '.embeddings');
}

export function finetuneOptions(o: Partial<FinetuneOptions> & { data: string; models: string }): FinetuneOptions {
  const r: FinetuneOptions = { ...FINETUNE_DEFAULTS, force: false, cacheDir: defaultCacheDir(o.data), ...o };
  if (!(r.holdoutShare > 0 && r.holdoutShare < 1)) throw new TrainingError('TRAIN_BAD_OPTION', `holdout share must be between 0 and 1 (e.g. 0.2), got ${r.holdoutShare}`);
  if (!(Math.abs(r.margin) < 1)) throw new TrainingError('TRAIN_BAD_OPTION', `margin must be between -1 and 1 (e.g. 0.01), got ${r.margin}`);
  if (!Number.isInteger(r.epochs) || r.epochs < 1) throw new TrainingError('TRAIN_BAD_OPTION', `epochs must be a whole number ≥ 1, got ${r.epochs}`);
  if (!(r.weightDecay >= 0 && r.weightDecay < 10)) throw new TrainingError('TRAIN_BAD_OPTION', `weight decay must be ≥ 0 (e.g. 0.1; 0 turns it off), got ${r.weightDecay}`);
  return r;
}
