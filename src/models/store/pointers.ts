import { readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir } from '../../durable-fs.js';

/**
 * The store's `active` and `previous` pointers are relative symlinks (`active -> versions/<v>`).
 *
 * Why a symlink and not a JSON pointer file: everything that serves a model reads a plain folder. The daemon's
 * default model is `models/active`, loadModelFolder() follows the link, realpath() names the version, and the
 * daemon's folder watcher already sees the link being re-pointed. A JSON file would make every reader learn a
 * second way to find a model. Both are switched the same way: write a new one under a temporary name, then
 * rename(2) it over the old one, which is atomic on one filesystem: a reader (or a power cut) sees the old
 * target or the new one, never none. (FAT has no symlinks; edgecam's models folder lives on the root ext4/f2fs.)
 */

/** The version a pointer names, or undefined when it does not exist (or is not one of ours). */
export async function readPointer(root: string, name: string): Promise<string | undefined> {
  const target = await readlink(join(root, name)).catch(() => undefined);
  if (!target) return undefined;
  const parts = target.split('/');
  if (parts.length !== 2 || parts[0] !== 'versions' || !parts[1]) return undefined;
  return parts[1];
}

/** Point `name` at versions/<version> atomically; `beforeRename` lets crash tests stop between the two steps. */
export async function writePointer(root: string, name: string, version: string, beforeRename?: () => Promise<void>): Promise<void> {
  const link = join(root, name);
  const tmp = join(root, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await symlink(`versions/${version}`, tmp);
  try {
    await beforeRename?.();
    await rename(tmp, link);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(link));
}

export async function removePointer(root: string, name: string): Promise<void> {
  await rm(join(root, name), { force: true });
  await fsyncDir(root);
}


/** Names of temporary entries the store writes (pointer temps, half-written version folders, downloads). */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') && /\.tmp-|\.part$|\.old$/.test(basename(name));
}
