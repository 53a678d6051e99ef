import { createHash } from 'node:crypto';
import { listFrames } from '../collect/frames.js';
import { validateClassName } from '../collect/labels.js';
import type { LabelledFile } from './dataset.js';
import { TrainingError } from './errors.js';

/**
 * Which labelled frames train and which are held back for the evaluation gate (issue 5 item 4). The holdout is
 * decided per frame by a hash of its id, so a frame is held back in every fine-tune or in none: it can never
 * leak from one side to the other as more frames get labelled. Applied within each class, the share is the same
 * for every class (stratified) in expectation.
 */

/** 0 ≤ u < 1, fixed for a frame id. */
export function holdoutKey(id: string): number {
  return createHash('sha256').update(`edgecam-holdout:${id}`).digest().readUInt32BE(0) / 2 ** 32;
}

export function isHeldOut(id: string, share: number): boolean {
  return holdoutKey(id) < share;
}

export interface FinetuneSplit {
  labels: string[];
  /** Classes of the current model that no labelled frame has. */
  unlabelledClasses: string[];
  newClasses: string[];
  train: LabelledFile[];
  holdout: LabelledFile[];
  counts: Record<string, { train: number; holdout: number }>;
}

/**
 * Labels = the current model's classes, then new classes from the labelled folders (sorted). Every class needs
 * at least one training frame, or the head would learn to never say it.
 */
export async function finetuneSplit(dataDir: string, currentLabels: string[], share: number): Promise<FinetuneSplit> {
  const frames = (await listFrames(dataDir)).filter((f) => f.label !== undefined);
  const folders = [...new Set(frames.map((f) => f.label!))].sort();
  for (const c of folders) validateClassName(c);
  const newClasses = folders.filter((c) => !currentLabels.includes(c));
  const labels = [...currentLabels, ...newClasses];
  const counts: FinetuneSplit['counts'] = Object.fromEntries(labels.map((l) => [l, { train: 0, holdout: 0 }]));
  const train: LabelledFile[] = [];
  const holdout: LabelledFile[] = [];
  for (const f of frames) {
    const entry = { path: f.image, label: labels.indexOf(f.label!) };
    if (isHeldOut(f.id, share)) {
      holdout.push(entry);
      counts[f.label!]!.holdout++;
    } else {
      train.push(entry);
      counts[f.label!]!.train++;
    }
  }
  const unlabelledClasses = currentLabels.filter((l) => counts[l]!.train === 0);
  if (frames.length === 0) {
    throw new TrainingError('FINETUNE_NO_LABELS', `no labelled frames in ${dataDir}/labelled/; label some with \`edgecam label set <id…> <class>\` (or the MQTT label request) first`);
  }
  const empty = labels.filter((l) => counts[l]!.train === 0);
  if (empty.length) {
    throw new TrainingError('FINETUNE_CLASS_WITHOUT_FRAMES', `no training frames for class(es) ${empty.map((l) => `"${l}"`).join(', ')}: the new model would forget them. Label a few frames of each (\`edgecam label set <id…> <class>\`); held-back frames (about ${Math.round(share * 100)}%) do not count`);
  }
  if (labels.length < 2) throw new TrainingError('TRAIN_ONE_CLASS', 'a classifier needs at least two classes');
  return { labels, unlabelledClasses, newClasses, train, holdout, counts };
}
