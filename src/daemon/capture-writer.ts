import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EdgecamError } from '../errors.js';
import type { Frame } from '../types.js';

export interface CaptureQuota {
  maxFiles: number;
  maxMegabytes: number;
}

export interface SavedCapture {
  image: string;
  sidecar: string;
  bytes: number;
}

/** File extension from the image's magic bytes (cameras send JPEG; folder replay may send PNG/WebP). */
export function imageExtension(data: Buffer): string {
  if (data[0] === 0xff && data[1] === 0xd8) return 'jpg';
  if (data[0] === 0x89 && data[1] === 0x50) return 'png';
  if (data.subarray(0, 4).toString('latin1') === 'RIFF' && data.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return 'bin';
}

/** A label usable as a folder name: the learning loop reads class folders. */
export function safeLabel(label: string): string {
  const cleaned = label.trim().replace(/[^A-Za-z0-9 _.-]+/g, '_').replace(/^\.+/, '_');
  return cleaned.slice(0, 100) || 'unlabelled';
}

async function usage(dir: string): Promise<{ files: number; bytes: number }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    if (!e.isFile() || e.name.endsWith('.json') || e.name.startsWith('.')) continue;
    files += 1;
    bytes += (await stat(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return { files, bytes };
}

/**
 * Saves one frame into the collection folder as `<dir>/<label>/<time>-<seq>.<ext>` with a sidecar
 * `<same name>.json` (everything known about the frame: time, source, label, the model's scores).
 * Files are written under a temporary name and renamed, so a reader never sees half an image.
 */
export async function saveCapture(dir: string, frame: Frame, sidecar: Record<string, unknown> & { label?: string }, quota: CaptureQuota): Promise<SavedCapture> {
  const used = await usage(dir);
  if (used.files >= quota.maxFiles || used.bytes + frame.data.length > quota.maxMegabytes * 1048576) {
    throw new EdgecamError('COLLECT_QUOTA', `The collection folder ${dir} is full (${used.files} images, ${(used.bytes / 1048576).toFixed(1)} MB; limits collect.maxFiles=${quota.maxFiles}, collect.maxMegabytes=${quota.maxMegabytes}). Label or delete images, or raise the limits.`);
  }
  const folder = join(dir, safeLabel(sidecar.label ?? 'unlabelled'));
  await mkdir(folder, { recursive: true });
  const stamp = new Date(frame.timestamp).toISOString().replace(/[:.]/g, '-');
  const base = join(folder, `${stamp}-${frame.seq}`);
  const image = `${base}.${imageExtension(frame.data)}`;
  const meta = `${base}.json`;
  // Temporary names unique per call: two captures of the same frame at once (a double-clicked button, a retried
  // request) each rename their own file, where a shared `.tmp` made the second rename fail with ENOENT (test/faults).
  const tmp = `.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(`${image}${tmp}`, frame.data);
    await writeFile(`${meta}${tmp}`, JSON.stringify({ ...sidecar, file: image, frameTime: new Date(frame.timestamp).toISOString(), seq: frame.seq, origin: frame.origin, bytes: frame.data.length }, null, 2) + '\n');
    await rename(`${image}${tmp}`, image);
    await rename(`${meta}${tmp}`, meta);
  } catch (err) {
    // A full SD card must not keep half-written files, and the user must learn what happened (test/faults/disk-full).
    await Promise.all([rm(`${image}${tmp}`, { force: true }), rm(`${meta}${tmp}`, { force: true })]);
    const code = (err as { code?: string }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      throw new EdgecamError('COLLECT_DISK_FULL', `The disk holding ${dir} is full; the frame was not saved (classification goes on). Free some space or lower collect.maxMegabytes.`, { cause: err });
    }
    throw err;
  }
  return { image, sidecar: meta, bytes: frame.data.length };
}
