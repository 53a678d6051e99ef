import { createHash } from 'node:crypto';
import { listFrames } from '../collect/frames.js';
import { validateClassName } from '../collect/labels.js';
import type { LabelledFile } from './dataset.js';
import { TrainingError } from './errors.js';

/**
 * Which labelled frames train and which are held back for the evaluation gate (issue 5 item 4). The holdout is
 * decided per frame by a hash of its id, so a frame is held back in every fine-tune or in none: it cannot
 * leak from one side to the other as more frames get labelled. Applied within each class, the share is the same
 * for every class (stratified) in expectation.
 *
 * The tiny-class rule, the one exception: the hash must not take all of a class's frames, nor leave a class of
 * two or more frames with none held back. So while every frame of a class hashes into the holdout, the one with
 * the highest key trains; while none of a class of ≥ 2 does, the one with the lowest key is held back. Only a
 * frame so placed can ever change side, back to its hash's side, when a frame with a higher (resp. lower) key
 * takes its role or the class grows out of the case; once a class has frames on both sides by hash, every frame
 * stays where its hash puts it. Either move is harmless to the gate: a frame that leaves training may have
 * taught the current model (the gate then leans towards keeping it), one that leaves the holdout never trained.
 */

/** 0 ≤ u < 1, fixed for a frame id. */
export function holdoutKey(id: string): number {
  return createHash('sha256').update(`edgecam-holdout:${id}`).digest().readUInt32BE(0) / 2 ** 32;
}

export function isHeldOut(id: string, share: number): boolean {
  return holdoutKey(id) < share;
}

/** The held-back frames of ONE class: its ids under the share, with the tiny-class rule above applied. */
export function classHoldout(ids: readonly string[], share: number): Set<string> {
  const keyed = ids.map((id) => ({ id, key: holdoutKey(id) })).sort((a, b) => a.key - b.key);
  const held = new Set(keyed.filter((k) => k.key < share).map((k) => k.id));
  if (keyed.length > 0 && held.size === keyed.length) held.delete(keyed.at(-1)!.id);
  else if (keyed.length >= 2 && held.size === 0) held.add(keyed[0]!.id);
  return held;
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
 * at least one labelled frame (which then trains), or the head would learn to never say it.
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
  const held = new Set(folders.flatMap((c) => [...classHoldout(frames.filter((f) => f.label === c).map((f) => f.id), share)]));
  for (const f of frames) {
    const entry = { path: f.image, label: labels.indexOf(f.label!) };
    if (held.has(f.id)) {
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
    throw new TrainingError('FINETUNE_CLASS_WITHOUT_FRAMES', `no labelled frames for class(es) ${empty.map((l) => `"${l}"`).join(', ')}: the new model would forget them. Label a few frames of each (\`edgecam label set <id…> <class>\`); about ${Math.round(share * 100)}% of each class's frames are held back to check the new model`);
  }
  if (labels.length < 2) throw new TrainingError('TRAIN_ONE_CLASS', 'a classifier needs at least two classes');
  return { labels, unlabelledClasses, newClasses, train, holdout, counts };
}
