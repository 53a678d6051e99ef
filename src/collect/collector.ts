import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Clock, Component, Frame } from '../types.js';
import { CollectError, extensionOf, frameId, listFrames, writeFileAtomic, UNLABELLED, LABELLED, type CollectReason, type FrameSidecar, type WriteFn } from './frames.js';
import { validateClassName } from './labels.js';
import { greyThumbnail, thumbnailDistance } from './thumbnail.js';
import { cacheEmbedding } from './embedding-cache.js';

/**
 * Keeps the frames worth learning from (issue 5 item 1): low-confidence frames, frames where the stable label
 * changed, a periodic sample, and frames asked for by the `capture` request. Never slows classification: offers
 * are decided synchronously and saved in the background, one at a time, with at most MAX_QUEUED waiting (more
 * are dropped and counted). A disk quota evicts the oldest *unlabelled* frames; a full disk pauses collection.
 */

export interface CollectOptions {
  dir: string;
  maxFiles: number;
  maxMegabytes: number;
  /** Keep frames whose top score is below this (0: never). */
  lowConfidence: number;
  /** Keep the frame that changed the stable label. */
  onChange: boolean;
  /** Keep one frame every this many seconds (0: off). */
  sampleIntervalSeconds: number;
  /** Mean 8×8 grey difference (0..255) under which a frame repeats the last kept one and is skipped (0: keep all). */
  duplicateThreshold: number;
  /** Fine-tune embedding cache to file offered embeddings into (learn/finetune-options defaultCacheDir). */
  embeddingCacheDir?: string;
  /** After ENOSPC, wait this long before trying again (default 600 s). */
  pauseSeconds?: number;
  camera?: string;
  source?: string;
}

export interface CollectorDeps {
  logger: Logger;
  clock: Clock;
  /** File writer (default: write + fsync); tests inject a disk that is full. */
  write?: WriteFn;
}

/** What the daemon knows about a classified frame. */
export interface FrameOffer {
  frame: Frame;
  label: string;
  confidence: number;
  stableLabel?: string;
  stableChanged: boolean;
  scores: Record<string, number>;
  model: { name: string; version: string } | null;
  /** The frame's backbone embedding and the cache key of that backbone (transfer models), for the fine-tune cache. */
  embedding?: { key: string; values: Float32Array };
}

/** Why the collector itself keeps a frame (`imported` frames come from `edgecam label import`, not from here). */
export type KeptReason = Exclude<CollectReason, 'imported'>;
export const KEPT_REASONS: readonly KeptReason[] = ['low-confidence', 'label-changed', 'sample', 'requested'];

export interface CollectCounters {
  saved: number;
  /** `saved` split by why the frame was kept. */
  kept: Record<KeptReason, number>;
  duplicates: number;
  busy: number;
  evicted: number;
  failed: number;
  quotaFull: number;
  /** Times collection paused: the disk was full (ENOSPC/EDQUOT), or only labelled frames were left at the quota. */
  pauses: { diskFull: number; quota: number };
}

/** Frames waiting to be written; more arrive only if the disk is slower than the camera, and are dropped (counted). */
const MAX_QUEUED = 16;

/** Sidecars are ~0.5 KB; counted at a fixed size so the quota needs no extra stat calls. */
const SIDECAR_ESTIMATE = 600;

export interface SavedFrame { id: string; image: string; sidecar: string; bytes: number }

export class Collector implements Component {
  readonly counters: CollectCounters = {
    saved: 0, kept: { 'low-confidence': 0, 'label-changed': 0, sample: 0, requested: 0 }, duplicates: 0, busy: 0, evicted: 0, failed: 0, quotaFull: 0, pauses: { diskFull: 0, quota: 0 },
  };
  private stored = { files: 0, bytes: 0 };
  private unlabelled: { id: string; image: string; sidecar: string; bytes: number }[] = [];
  private lastThumb: Uint8Array | undefined;
  private lastSampleAt = -Infinity;
  private pausedUntil = 0;
  private saving: Promise<unknown> | undefined;
  private queued = 0;
  private started = false;
  private lastId = '';
  private readonly log: Logger;

  constructor(private readonly deps: CollectorDeps, private readonly options: CollectOptions) {
    this.log = deps.logger.child({ component: 'collect' });
  }

  get paused(): boolean {
    return this.deps.clock.now() < this.pausedUntil;
  }

  /** Files and bytes in the collection folder, as the quota counts them. */
  get usage(): { files: number; bytes: number } {
    return { ...this.stored };
  }

  async start(): Promise<void> {
    if (this.started) return;
    await mkdir(join(this.options.dir, UNLABELLED), { recursive: true });
    await mkdir(join(this.options.dir, LABELLED), { recursive: true });
    await this.rescan();
    this.started = true;
    this.log.info({ dir: this.options.dir, files: this.stored.files, megabytes: +(this.stored.bytes / 1048576).toFixed(1) }, 'collecting frames');
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.saving?.catch(() => undefined);
  }

  /** Resolves when every queued frame has been written (or failed). */
  async idle(): Promise<void> {
    while (this.saving) await this.saving.catch(() => undefined);
  }

  /** Why this frame is worth keeping, or undefined. Pure policy; cheap enough to run on every frame. */
  reasonFor(o: FrameOffer): CollectReason | undefined {
    const now = this.deps.clock.now();
    if (o.stableChanged && this.options.onChange) return 'label-changed';
    if (o.confidence < this.options.lowConfidence) return 'low-confidence';
    if (this.options.sampleIntervalSeconds > 0 && now - this.lastSampleAt >= this.options.sampleIntervalSeconds * 1000) return 'sample';
    return undefined;
  }

  /** Called for every classified frame; never throws, never waits. */
  offer(o: FrameOffer): void {
    if (!this.started || this.paused) return;
    const reason = this.reasonFor(o);
    if (!reason) return;
    if (this.queued >= MAX_QUEUED) {
      this.counters.busy++;
      return;
    }
    if (reason === 'sample') this.lastSampleAt = this.deps.clock.now();
    const sidecar = this.sidecarOf(o, reason);
    this.queued++;
    const previous = this.saving ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (!this.started || this.paused) return;
        const saved = await this.saveFrame(o.frame, sidecar, { skipDuplicates: true });
        if (saved && o.embedding && this.options.embeddingCacheDir) await cacheEmbedding(this.options.embeddingCacheDir, o.embedding.key, o.frame.data, o.embedding.values);
      })
      .catch((err: unknown) => this.onSaveError(err))
      .finally(() => {
        this.queued--;
        if (this.saving === next) this.saving = undefined;
      });
    this.saving = next;
  }

  /** The `capture` request: keep the current frame now (even a duplicate), optionally labelled at once. */
  async capture(frame: Frame, meta: Omit<FrameOffer, 'frame'> | undefined, label?: string): Promise<SavedFrame> {
    if (label !== undefined) validateClassName(label);
    const sidecar = meta ? this.sidecarOf({ ...meta, frame }, 'requested') : { id: '', time: new Date(frame.timestamp).toISOString(), reason: 'requested' as const, bytes: frame.data.length };
    await this.saving?.catch(() => undefined);
    let saved: SavedFrame | undefined;
    try {
      saved = await this.saveFrame(frame, sidecar, { skipDuplicates: false, ...(label ? { label } : {}) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err;
      // Answer the request with what happened and what to do (not a bare "ENOSPC"), and pause like automatic saves do.
      this.onSaveError(err);
      throw new CollectError('COLLECT_DISK_FULL', `the disk holding ${this.options.dir} is full; the frame was not kept (classification goes on). Free some space or lower collect.maxMegabytes`, { cause: err });
    }
    if (!saved) throw new CollectError('COLLECT_SKIPPED', 'the frame was not saved');
    return saved;
  }

  private sidecarOf(o: FrameOffer, reason: CollectReason): Omit<FrameSidecar, 'id' | 'bytes'> & { id: string; bytes: number } {
    return {
      id: '', time: new Date(o.frame.timestamp).toISOString(), reason, bytes: o.frame.data.length,
      ...(this.options.camera ? { camera: this.options.camera } : {}), ...(this.options.source ? { source: this.options.source } : {}),
      ...(o.frame.origin ? { origin: o.frame.origin } : {}),
      model: o.model, predicted: { label: o.label, confidence: o.confidence, ...(o.stableLabel ? { stableLabel: o.stableLabel } : {}) }, scores: o.scores,
    };
  }

  private async saveFrame(frame: Frame, sidecar: FrameSidecar, o: { skipDuplicates: boolean; label?: string }): Promise<SavedFrame | undefined> {
    const ext = extensionOf(frame.data);
    if (!ext) throw new CollectError('COLLECT_NOT_AN_IMAGE', 'the frame is not a JPEG, PNG or WebP image; not kept');
    const thumb = await greyThumbnail(frame.data);
    if (o.skipDuplicates && this.lastThumb && this.options.duplicateThreshold > 0 && thumbnailDistance(thumb, this.lastThumb) < this.options.duplicateThreshold) {
      this.counters.duplicates++;
      return undefined;
    }
    const sidecarBytes = SIDECAR_ESTIMATE;
    await this.makeRoom(frame.data.length + sidecarBytes);
    let id = frameId(frame.timestamp, frame.seq);
    if (id <= this.lastId && id.slice(0, 19) === this.lastId.slice(0, 19)) id = `${id}-${this.counters.saved}`;
    this.lastId = id;
    const folder = o.label ? join(this.options.dir, LABELLED, o.label) : join(this.options.dir, UNLABELLED);
    await mkdir(folder, { recursive: true });
    const image = join(folder, `${id}${ext}`);
    const meta = join(folder, `${id}.json`);
    const body: FrameSidecar = { ...sidecar, id, ...(o.label ? { label: o.label, labelledAt: new Date(this.deps.clock.now()).toISOString() } : {}) };
    const write = this.deps.write;
    // Sidecar first: an image without a sidecar would still be listed, but a sidecar alone is ignored.
    await writeFileAtomic(meta, `${JSON.stringify(body, null, 2)}\n`, write);
    try {
      await writeFileAtomic(image, frame.data, write);
    } catch (err) {
      await rm(meta, { force: true });
      throw err;
    }
    const bytes = frame.data.length + sidecarBytes;
    this.stored.files++;
    this.stored.bytes += bytes;
    if (!o.label) this.unlabelled.push({ id, image, sidecar: meta, bytes });
    this.lastThumb = thumb;
    this.counters.saved++;
    if (sidecar.reason !== 'imported') this.counters.kept[sidecar.reason]++;
    this.log.debug({ id, reason: sidecar.reason, label: o.label }, 'frame kept');
    return { id, image, sidecar: meta, bytes: frame.data.length };
  }

  /** Evict the oldest unlabelled frames until `incoming` bytes and one more file fit; refuse when only labelled ones are left. */
  private async makeRoom(incoming: number): Promise<void> {
    const maxBytes = this.options.maxMegabytes * 1048576;
    const fits = (): boolean => this.stored.files + 1 <= this.options.maxFiles && this.stored.bytes + incoming <= maxBytes;
    if (!fits()) await this.rescan(); // another process (labelling, deleting) may have changed the folder
    while (!fits()) {
      const oldest = this.unlabelled.shift();
      if (!oldest) {
        this.counters.quotaFull++;
        throw new CollectError('COLLECT_QUOTA', `the collection folder ${this.options.dir} holds only labelled frames and is at its quota (collect.maxFiles=${this.options.maxFiles}, collect.maxMegabytes=${this.options.maxMegabytes}); fine-tune and archive them, or raise the limits`);
      }
      await rm(oldest.image, { force: true });
      await rm(oldest.sidecar, { force: true });
      this.stored.files--;
      this.stored.bytes -= oldest.bytes;
      this.counters.evicted++;
    }
  }

  private async rescan(): Promise<void> {
    const frames = await listFrames(this.options.dir);
    this.stored = { files: frames.length, bytes: frames.reduce((s, f) => s + f.bytes + SIDECAR_ESTIMATE, 0) };
    this.unlabelled = frames.filter((f) => !f.label).map((f) => ({ id: f.id, image: f.image, sidecar: f.sidecar, bytes: f.bytes + SIDECAR_ESTIMATE }));
  }

  private onSaveError(err: unknown): void {
    const code = (err as { code?: string }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      const pause = (this.options.pauseSeconds ?? 600) * 1000;
      this.pausedUntil = this.deps.clock.now() + pause;
      this.counters.failed++;
      this.counters.pauses.diskFull++;
      this.log.warn({ dir: this.options.dir, retryInSeconds: pause / 1000 }, 'the disk is full: frame collection paused (classification goes on); free some space or lower collect.maxMegabytes');
      return;
    }
    this.counters.failed++;
    if (code === 'COLLECT_QUOTA') {
      this.counters.pauses.quota++;
      this.pausedUntil = this.deps.clock.now() + (this.options.pauseSeconds ?? 600) * 1000;
      this.log.warn(errorMessage(err));
      return;
    }
    this.log.warn({ err: errorMessage(err), code }, 'could not keep a frame');
  }
}
