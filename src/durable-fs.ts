import { open } from 'node:fs/promises';

/**
 * The two primitives behind every write that must survive a power cut (model folders, store pointers, collected
 * frames): file data flushed before it is renamed into place, and the directory entry flushed after the rename.
 */

/** Writes a file and fsyncs it before returning. */
export async function writeFileSynced(path: string, content: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename durable: without it a power cut can forget the new directory entry. */
export async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // some filesystems refuse fsync on directories; the file data is already synced
  } finally {
    await fh.close();
  }
}
