import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { extname, join, basename } from 'node:path';
import { createHash } from 'node:crypto';
import { CollectError, extensionOf, isFrameId, listFrames, moveFile, readSidecar, writeFileAtomic, IMAGE_EXTENSIONS, LABELLED, type FrameSidecar, type StoredFrame } from './frames.js';

/**
 * Labelling (issue 5 item 2): a labelled frame moves to <data>/labelled/<class>/. The new sidecar is written
 * first, then the image is renamed, then the old sidecar removed: after a crash at any point the image exists
 * exactly once (a stray sidecar without its image is ignored by listFrames).
 */

export const MAX_CLASS_NAME = 64;

/** Class names become folder names and MQTT payload values: no separators, no dot-names, no control characters. */
export function validateClassName(name: string): string {
  const problems: string[] = [];
  if (name.length === 0) problems.push('is empty');
  if (name.length > MAX_CLASS_NAME) problems.push(`is longer than ${MAX_CLASS_NAME} characters`);
  if (/[/\\]/.test(name)) problems.push('contains a path separator');
  if (name === '.' || name === '..' || name.includes('..')) problems.push('contains ".."');
  if (name.startsWith('.')) problems.push('starts with "."');
  if (/[\p{Cc}]/u.test(name)) problems.push('contains control characters');
  if (name !== name.trim()) problems.push('starts or ends with spaces');
  if (/[#+*?:"<>|]/.test(name)) problems.push('contains one of # + * ? : " < > |');
  if (problems.length) {
    throw new CollectError('LABEL_BAD_CLASS', `class name "${name.slice(0, 80)}" ${problems.join(', ')}; use letters, digits, spaces, - or _ (e.g. "cat", "no_cat")`);
  }
  return name;
}

export interface LabelResult {
  labelled: { id: string; from?: string; to: string }[];
  missing: string[];
}

/** Label frames by id (unlabelled or re-labelled). Unknown ids are reported, not fatal; bad class names are. */
export async function setLabels(dataDir: string, ids: string[], className: string, now: () => Date = () => new Date()): Promise<LabelResult> {
  validateClassName(className);
  const bad = ids.filter((id) => !isFrameId(id));
  if (bad.length) throw new CollectError('LABEL_BAD_ID', `not frame ids: ${bad.slice(0, 5).join(', ')}; \`edgecam label list\` shows them (e.g. 20240501-102030-123-000042)`);
  const frames = new Map((await listFrames(dataDir)).map((f) => [f.id, f]));
  const result: LabelResult = { labelled: [], missing: [] };
  for (const id of ids) {
    const frame = frames.get(id);
    if (!frame) { result.missing.push(id); continue; }
    if (frame.label === className) { result.labelled.push({ id, from: className, to: className }); continue; }
    await moveFrame(dataDir, frame, className, now());
    result.labelled.push({ id, ...(frame.label ? { from: frame.label } : {}), to: className });
  }
  return result;
}

async function moveFrame(dataDir: string, frame: StoredFrame, className: string, at: Date): Promise<void> {
  const folder = join(dataDir, LABELLED, className);
  const image = join(folder, basename(frame.image));
  const sidecar = join(folder, `${frame.id}.json`);
  await mkdir(folder, { recursive: true });
  const old = (await readSidecar(frame.sidecar)) ?? ({ id: frame.id, time: '', reason: 'imported', bytes: frame.bytes } as FrameSidecar);
  await writeFileAtomic(sidecar, `${JSON.stringify({ ...old, label: className, labelledAt: at.toISOString() }, null, 2)}\n`);
  try {
    await moveFile(frame.image, image);
  } catch (err) {
    await rm(sidecar, { force: true });
    throw new CollectError('LABEL_MOVE_FAILED', `could not move frame ${frame.id} into ${folder}: ${(err as Error).message}; the frame stays where it was`, { cause: err });
  }
  if (frame.sidecar !== sidecar) await rm(frame.sidecar, { force: true });
}

/**
 * `label import <folder>`: class folders of images become labelled frames (copied, never moved: the source is
 * the user's). Ids derive from the image hash, so importing the same folder twice adds nothing.
 */
export async function importClassFolders(dataDir: string, source: string, now: () => Date = () => new Date()): Promise<{ imported: Record<string, number>; skipped: { path: string; reason: string }[] }> {
  const entries = await readdir(source, { withFileTypes: true }).catch((err: Error) => {
    throw new CollectError('LABEL_IMPORT_NOT_FOUND', `cannot read ${source}: ${err.message}; pass a folder holding one sub-folder per class`);
  });
  const classes = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  if (classes.length === 0) throw new CollectError('LABEL_IMPORT_EMPTY', `${source} has no class sub-folders; put images in <folder>/<class>/ (e.g. cat/, dog/)`);
  for (const c of classes) validateClassName(c);
  const existing = new Set((await listFrames(dataDir)).map((f) => f.id));
  const imported: Record<string, number> = {};
  const skipped: { path: string; reason: string }[] = [];
  for (const c of classes) {
    imported[c] = 0;
    for (const name of (await readdir(join(source, c))).sort()) {
      const path = join(source, c, name);
      if (name.startsWith('.') || !IMAGE_EXTENSIONS.includes(extname(name).toLowerCase()) || !(await stat(path)).isFile()) continue;
      const bytes = await readFile(path);
      const ext = extensionOf(bytes);
      if (!ext) { skipped.push({ path, reason: 'not a JPEG, PNG or WebP image' }); continue; }
      const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
      const id = `19700101-000000-000-i${hash}`;
      if (existing.has(id)) continue;
      const at = now().toISOString();
      const sidecar: FrameSidecar = { id, time: at, reason: 'imported', origin: path, label: c, labelledAt: at, bytes: bytes.length };
      const folder = join(dataDir, LABELLED, c);
      await mkdir(folder, { recursive: true });
      await writeFileAtomic(join(folder, `${id}.json`), `${JSON.stringify(sidecar, null, 2)}\n`);
      await writeFileAtomic(join(folder, `${id}${ext}`), bytes);
      existing.add(id);
      imported[c]++;
    }
  }
  return { imported, skipped };
}

export interface FrameListing extends StoredFrame {
  sidecarData?: FrameSidecar;
}

export async function listFramesWithSidecars(dataDir: string, o: { unlabelled?: boolean } = {}): Promise<FrameListing[]> {
  const frames = (await listFrames(dataDir)).filter((f) => !o.unlabelled || !f.label);
  return Promise.all(frames.map(async (f) => {
    const s = await readSidecar(f.sidecar);
    return s ? { ...f, sidecarData: s } : f;
  }));
}
