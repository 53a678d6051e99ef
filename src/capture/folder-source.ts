import { readdir, readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';
import { errorMessage } from '../errors.js';
import { BaseSource } from './base-source.js';
import { CaptureError } from './errors.js';
import type { CaptureOptions } from './source.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface FolderSourceOptions extends CaptureOptions {
  dir: string;
  /** Start again at the first image after the last one (default true). With false the source emits 'end' once. */
  loop?: boolean;
  /** Emit each image this many times in a row (default 1): a demo scene that holds still long enough to settle. */
  repeat?: number;
}

export interface FolderSourceDeps {
  logger: Logger;
  clock: Clock;
}

/** Image files directly inside `dir`, in natural order (img2 before img10). */
export async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new CaptureError('FOLDER_UNREADABLE', `Cannot read the image folder ${dir}: ${errorMessage(err)}. Check the path in --source folder:<dir>.`, { cause: err });
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return names.filter((n) => IMAGE_EXTENSIONS.includes(extname(n).toLowerCase())).sort(collator.compare).map((n) => join(dir, n));
}

/**
 * Replays the images of a folder as frames (demos, tests, field debugging). `fps` paces replay without drift
 * (default 5); fps 0 replays as fast as files are read, yielding to the event loop between frames.
 * Each frame's `origin` is the file path. Unreadable files are skipped and counted; when a whole pass yields
 * nothing the source fails. With `loop: false` it emits 'end' after the last image and goes 'offline'.
 * Images are delivered as they are: preprocessing resizes them.
 */
export class FolderSource extends BaseSource {
  readonly description: string;
  /** Files that could not be read (deleted meanwhile, permissions). */
  skippedFiles = 0;
  private files: string[] = [];
  private index = 0;
  private running = false;
  private startedAt = 0;
  private emittedSinceStart = 0;
  private readsThisPass = 0;
  private shownTimes = 0;

  constructor(private readonly deps: FolderSourceDeps, private readonly options: FolderSourceOptions) {
    super(deps);
    this.description = `folder:${options.dir}`;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const fps = this.options.fps ?? 5;
    if (!Number.isFinite(fps) || fps < 0) throw new CaptureError('CAPTURE_OPTIONS_INVALID', `fps must be 0 or more, got ${fps}.`);
    this.files = await listImages(resolve(this.options.dir));
    if (this.files.length === 0) {
      throw new CaptureError('FOLDER_EMPTY', `No images in ${this.options.dir} (looked for ${IMAGE_EXTENSIONS.join(', ')}). Put some there or point --source folder:<dir> elsewhere.`);
    }
    this.running = true;
    this.index = 0;
    this.shownTimes = 0;
    this.readsThisPass = 0;
    this.startedAt = this.deps.clock.now();
    this.emittedSinceStart = 0;
    this.setStatus('online');
    this.scheduleTick(0, () => this.next());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelTick();
    this.setStatus('offline');
  }

  private async next(): Promise<void> {
    if (!this.running) return;
    const file = this.files[this.index]!;
    try {
      const data = await readFile(file);
      if (!this.running) return;
      this.readsThisPass += 1;
      this.emittedSinceStart += 1;
      this.emitFrame(data, file);
    } catch (err) {
      this.shownTimes = Number.POSITIVE_INFINITY; // an unreadable image is skipped, not retried `repeat` times
      this.skippedFiles += 1;
      this.deps.logger.warn({ file, err: errorMessage(err) }, 'skipping unreadable image');
    }
    if (!this.running) return;
    this.shownTimes += 1;
    if (this.shownTimes < Math.max(1, Math.floor(this.options.repeat ?? 1))) { this.scheduleNext(); return; }
    this.shownTimes = 0;
    this.index += 1;
    if (this.index >= this.files.length) {
      if (this.readsThisPass === 0) {
        this.running = false;
        this.fail(new CaptureError('FOLDER_UNREADABLE', `None of the ${this.files.length} images in ${this.options.dir} could be read.`));
        return;
      }
      if (this.options.loop === false) {
        this.running = false;
        this.setStatus('offline');
        this.emit('end');
        return;
      }
      this.index = 0;
      this.readsThisPass = 0;
    }
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const fps = this.options.fps ?? 5;
    // Pace against the start time, not the previous frame, so slow reads do not accumulate drift.
    const due = fps > 0 ? this.startedAt + (this.emittedSinceStart * 1000) / fps : this.deps.clock.now();
    this.scheduleTick(Math.max(0, due - this.deps.clock.now()), () => this.next());
  }
}
