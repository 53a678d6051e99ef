import { mkdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CollectError, isFrameId, listFrames, moveFile, readSidecar, writeFileAtomic, IMAGE_EXTENSIONS, UNLABELLED } from '../collect/frames.js';
import { listFramesWithSidecars, setLabels, type FrameListing, type LabelResult } from '../collect/labels.js';
import { ApiError, imageType } from './api-http.js';

/**
 * The label view's endpoints over the collection folder (issue 6 item 3). Labelling calls setLabels(), the function
 * behind `edgecam label set` and the MQTT `label` request, so the page moves files exactly as they do.
 */

export interface LabelCard {
  id: string;
  predicted: { label: string; confidence: number } | null;
  /** 0 (sure) … 1 (torn): 1 − (top score − second score), or 1 − confidence when only that is known. */
  uncertainty: number;
  reason?: string;
  time?: string;
}

export function uncertaintyOf(f: FrameListing): number {
  const s = f.sidecarData;
  const values = Object.values(s?.scores ?? {}).filter((v) => typeof v === 'number').sort((a, b) => b - a);
  if (values.length >= 2) return Number((1 - (values[0]! - values[1]!)).toFixed(4));
  if (s?.predicted) return Number((1 - s.predicted.confidence).toFixed(4));
  return 1; // nothing known about it: as uncertain as it gets
}

/** GET /api/label/frames: unlabelled frames, most uncertain first; the classes offered (model's, then labelled folders). */
export async function labelFramesPayload(dataDir: string, modelLabels: string[], limit: number): Promise<Record<string, unknown>> {
  const [unlabelled, all] = await Promise.all([listFramesWithSidecars(dataDir, { unlabelled: true }), listFrames(dataDir)]);
  const cards: LabelCard[] = unlabelled.map((f) => ({
    id: f.id, uncertainty: uncertaintyOf(f),
    predicted: f.sidecarData?.predicted ? { label: f.sidecarData.predicted.label, confidence: Number(f.sidecarData.predicted.confidence.toFixed(4)) } : null,
    ...(f.sidecarData?.reason ? { reason: f.sidecarData.reason } : {}),
    ...(f.sidecarData?.time ? { time: f.sidecarData.time } : {}),
  }));
  // Most uncertain first; among equals the newest first (the scene as it is now).
  cards.sort((a, b) => b.uncertainty - a.uncertainty || b.id.localeCompare(a.id));
  const counts: Record<string, number> = {};
  for (const f of all) if (f.label) counts[f.label] = (counts[f.label] ?? 0) + 1;
  const classes = [...new Set([...modelLabels, ...Object.keys(counts).sort()])];
  return { classes, labelledCounts: counts, unlabelled: cards.length, frames: cards.slice(0, limit) };
}

/** GET /api/label/count: how many frames wait for a label (names only, no sidecars read: the header polls it). */
export async function unlabelledCount(dataDir: string): Promise<{ unlabelled: number }> {
  return { unlabelled: (await listFrames(dataDir)).filter((f) => !f.label).length };
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !isFrameId(id)) throw new ApiError(400, 'API_BAD_FRAME_ID', `"${String(id).slice(0, 60)}" is not a frame id`);
  return id;
}

/** GET /api/label/image/<id>: the unlabelled frame's bytes as stored (no re-encoding: sharp's threads belong to the pipeline). */
export async function unlabelledImage(dataDir: string, id: string): Promise<{ data: Buffer; type: string }> {
  checkId(id);
  for (const ext of IMAGE_EXTENSIONS) {
    const data = await readFile(join(dataDir, UNLABELLED, `${id}${ext}`)).catch(() => undefined);
    if (data) return { data, type: imageType(data) };
  }
  throw new ApiError(404, 'API_FRAME_NOT_FOUND', `frame ${id} is not among the unlabelled frames (labelled or evicted meanwhile?)`);
}

/** POST /api/label {ids|id, label}: the same call as `edgecam label set <ids…> <label>`. */
export async function labelFrames(dataDir: string, body: Record<string, unknown>): Promise<LabelResult> {
  const ids = (Array.isArray(body.ids) ? body.ids : [body.id]).map(checkId);
  if (ids.length === 0 || ids.length > 500) throw new ApiError(400, 'API_BAD_REQUEST', 'Send {"ids": ["<frame id>", …], "label": "<class>"} with 1 to 500 ids.');
  if (typeof body.label !== 'string') throw new ApiError(400, 'API_BAD_REQUEST', 'Send the class as {"label": "<class>"}.');
  const result = await setLabels(dataDir, ids, body.label);
  if (result.missing.length === ids.length) throw new ApiError(404, 'API_FRAME_NOT_FOUND', `no such frame(s): ${result.missing.join(', ')} (evicted meanwhile?)`);
  return result;
}

/**
 * POST /api/label/undo {id, label}: put a frame back how it was. `label` is its class before (re-labelling goes through
 * setLabels again); null or absent means it was unlabelled, and it moves back to <data>/unlabelled/ the way setLabels
 * moves frames (new sidecar first, then the image, then the old sidecar) so a crash never loses it.
 */
export async function undoLabel(dataDir: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = checkId(body.id);
  if (typeof body.label === 'string') return { ...(await setLabels(dataDir, [id], body.label)) };
  const frame = (await listFrames(dataDir)).find((f) => f.id === id);
  if (!frame) throw new ApiError(404, 'API_FRAME_NOT_FOUND', `frame ${id} is gone (evicted meanwhile?)`);
  if (!frame.label) return { id, unlabelled: true };
  const folder = join(dataDir, UNLABELLED);
  const sidecar = join(folder, `${id}.json`);
  const old = await readSidecar(frame.sidecar);
  await mkdir(folder, { recursive: true });
  if (old) {
    const { label: _label, labelledAt: _at, ...rest } = old;
    await writeFileAtomic(sidecar, `${JSON.stringify(rest, null, 2)}\n`);
  }
  try {
    await moveFile(frame.image, join(folder, basename(frame.image)));
  } catch (err) {
    if (old) await rm(sidecar, { force: true });
    throw new CollectError('LABEL_MOVE_FAILED', `could not move frame ${id} back to ${folder}: ${(err as Error).message}; it stays labelled ${frame.label}`, { cause: err });
  }
  if (old) await rm(frame.sidecar, { force: true });
  return { id, unlabelled: true, from: frame.label };
}
