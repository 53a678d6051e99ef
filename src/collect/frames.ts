import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { EdgecamError, errorMessage } from '../errors.js';
import { writeFileSynced } from '../durable-fs.js';

/**
 * The collection folder ("data folder"):
 *
 *   <data>/unlabelled/<id>.<jpg|png|webp> + <id>.json    frames the daemon kept, waiting for a person
 *   <data>/labelled/<class>/<id>.<ext>    + <id>.json    labelled frames: class folders, what training reads
 *
 * A frame id is `<UTC yyyymmdd-hhmmss-mmm>-<seq>`: sortable by time (oldest-first eviction) and safe as a file name.
 */

export const UNLABELLED = 'unlabelled';
export const LABELLED = 'labelled';
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];

export class CollectError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CollectError';
  }
}

/** What the daemon knew about a frame when it kept it (the sidecar JSON). */
export interface FrameSidecar {
  id: string;
  time: string;
  camera?: string;
  source?: string;
  origin?: string;
  reason: CollectReason;
  model?: { name: string; version: string } | null;
  predicted?: { label: string; confidence: number; stableLabel?: string } | null;
  scores?: Record<string, number>;
  /** Set when labelled. */
  label?: string;
  labelledAt?: string;
  bytes: number;
}

export type CollectReason = 'low-confidence' | 'label-changed' | 'sample' | 'requested' | 'imported';

export interface StoredFrame {
  id: string;
  image: string;
  sidecar: string;
  /** undefined: unlabelled. */
  label?: string;
  bytes: number;
}

const FRAME_ID = /^[0-9]{8}-[0-9]{6}-[0-9]{3}-[0-9A-Za-z_-]{1,40}$/;

export function isFrameId(id: string): boolean {
  return FRAME_ID.test(id);
}

export function frameId(timestamp: number, seq: number | string): string {
  const iso = new Date(timestamp).toISOString(); // 2024-05-01T10:20:30.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}-${iso.slice(20, 23)}`;
  return `${stamp}-${String(seq).replace(/[^0-9A-Za-z_-]/g, '_').padStart(6, '0').slice(-40)}`;
}

/** File extension from the image's magic bytes (cameras send JPEG; folder replay may send PNG/WebP). */
export function extensionOf(data: Uint8Array): string | undefined {
  if (data[0] === 0xff && data[1] === 0xd8) return '.jpg';
  if (data[0] === 0x89 && data[1] === 0x50 && data[2] === 0x4e) return '.png';
  const head = Buffer.from(data.subarray(0, 12)).toString('latin1');
  if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return '.webp';
  return undefined;
}

/** Every stored frame (labelled and not); sidecars without their image (left by an interrupted move) are skipped. */
export async function listFrames(dataDir: string): Promise<StoredFrame[]> {
  const frames: StoredFrame[] = [];
  const scan = async (dir: string, label?: string): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const ext = extname(name).toLowerCase();
      if (name.startsWith('.') || !IMAGE_EXTENSIONS.includes(ext)) continue;
      const id = basename(name, extname(name));
      const image = join(dir, name);
      const st = await stat(image).catch(() => undefined);
      if (!st?.isFile()) continue;
      frames.push({ id, image, sidecar: join(dir, `${id}.json`), ...(label ? { label } : {}), bytes: st.size });
    }
  };
  await scan(join(dataDir, UNLABELLED));
  const classes = await readdir(join(dataDir, LABELLED), { withFileTypes: true }).catch(() => []);
  for (const c of classes) if (c.isDirectory() && !c.name.startsWith('.')) await scan(join(dataDir, LABELLED, c.name), c.name);
  return frames.sort((a, b) => a.id.localeCompare(b.id));
}

export async function readSidecar(path: string): Promise<FrameSidecar | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as FrameSidecar;
  } catch {
    return undefined;
  }
}

/** Write a file so that it is either absent or complete: temp name, fsync, rename, fsync the folder. */
export async function writeFileAtomic(path: string, content: Uint8Array | string, write: WriteFn = defaultWrite): Promise<void> {
  // Unique per call, not just per process: two captures of the same frame at once each rename their own file
  // (with a per-process name the second rename failed with ENOENT; found by test/faults/requests).
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await write(tmp, content);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export type WriteFn = (path: string, content: Uint8Array | string) => Promise<void>;

const defaultWrite: WriteFn = writeFileSynced;

/**
 * Move a file without ever losing it: rename (atomic on one filesystem); across filesystems copy, fsync, rename
 * into place, and only then remove the original. On any failure the original is still where it was.
 */
export async function moveFile(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await rename(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
  }
  const tmp = join(dirname(to), `.${basename(to)}.tmp-${process.pid}`);
  try {
    await copyFile(from, tmp);
    const fh = await open(tmp, 'r+');
    await fh.sync().finally(() => fh.close());
    await rename(tmp, to);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new CollectError('COLLECT_MOVE_FAILED', `could not copy ${from} to ${to} (${errorMessage(err)}); the original is unchanged. Check free space and permissions.`, { cause: err });
  }
  await rm(from);
}
