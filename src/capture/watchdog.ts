import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { Clock, Frame } from '../types.js';
import { errorMessage } from '../errors.js';
import type { CameraStatus, CaptureEvents, CaptureSource } from './source.js';

export interface WatchdogOptions {
  /** A source that delivers no frame for this long (also after a start) is stalled and restarted. Default 5000 ms. */
  stallTimeoutMs?: number;
  /** First restart delay; doubles per consecutive failure. Default 500 ms. */
  backoffInitialMs?: number;
  /** Longest restart delay. Default 30000 ms. */
  backoffMaxMs?: number;
  /** After frames have flowed this long the backoff starts again from backoffInitialMs. Default 30000 ms. */
  healthyAfterMs?: number;
}

export interface WatchdogDeps {
  logger: Logger;
  clock: Clock;
}

type Handle = NodeJS.Timeout | number | undefined;

/**
 * Keeps a camera alive: wraps a source factory, restarts the source when it errors, exits, or stalls (no frame within
 * stallTimeout), with exponential backoff, and reports status changes. It is itself a CaptureSource, so the daemon
 * consumes frames from it and never sees a camera come and go. It never throws out of start() or its timers;
 * stop() stops the current source and leaves no timer behind.
 *
 * Status sequence: starting → online; on a stall: stalled → (backoff) → restarting → online;
 * on an error/exit: offline → (backoff) → restarting → online; on 'end' (folder replay once) or stop(): offline.
 */
export class Watchdog extends EventEmitter<CaptureEvents> implements CaptureSource {
  readonly description: string;
  /** Restarts performed so far (stalls + failures). */
  restarts = 0;
  /** The last error a source reported or threw, for /healthz and MQTT. */
  lastError: Error | undefined;

  private source: CaptureSource | undefined;
  private running = false;
  private currentStatus: CameraStatus = 'offline';
  private attempt = 0;
  private lastFrameAt = 0;
  private onlineSince = 0;
  private stallTimer: Handle;
  private restartTimer: Handle;
  private generation = 0;
  private seq = 0;

  constructor(
    private readonly deps: WatchdogDeps,
    private readonly factory: () => CaptureSource,
    private readonly options: WatchdogOptions = {},
    description?: string,
  ) {
    super();
    this.description = description ?? 'watchdog';
  }

  get status(): CameraStatus {
    return this.currentStatus;
  }

  private get stallTimeoutMs(): number {
    return this.options.stallTimeoutMs ?? 5000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    await this.launch('starting');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.generation += 1;
    this.clearTimers();
    await this.teardown();
    this.setStatus('offline');
  }

  /** Current backoff delay for the next restart. */
  nextDelayMs(): number {
    const initial = this.options.backoffInitialMs ?? 500;
    return Math.min(this.options.backoffMaxMs ?? 30000, initial * 2 ** this.attempt);
  }

  private async launch(status: 'starting' | 'restarting'): Promise<void> {
    const generation = ++this.generation;
    this.setStatus(status);
    let source: CaptureSource;
    try {
      source = this.factory();
    } catch (err) {
      this.onFailure(generation, err);
      return;
    }
    this.source = source;
    source.on('frame', (frame) => this.onFrame(generation, frame));
    source.on('error', (err) => this.onFailure(generation, err));
    source.on('end', () => this.onEnd(generation));
    this.lastFrameAt = this.deps.clock.now();
    this.armStallTimer(generation, this.stallTimeoutMs);
    try {
      await source.start();
    } catch (err) {
      this.onFailure(generation, err);
    }
  }

  private onFrame(generation: number, frame: Frame): void {
    if (generation !== this.generation) return;
    const now = this.deps.clock.now();
    this.lastFrameAt = now;
    if (this.currentStatus !== 'online') {
      this.onlineSince = now;
      this.setStatus('online');
    } else if (this.attempt > 0 && now - this.onlineSince >= (this.options.healthyAfterMs ?? 30000)) {
      this.attempt = 0;
    }
    // Renumber so consumers see one monotonic sequence across restarts.
    this.emit('frame', { ...frame, seq: this.seq++ });
  }

  private armStallTimer(generation: number, ms: number): void {
    this.deps.clock.clearTimeout(this.stallTimer);
    this.stallTimer = this.deps.clock.setTimeout(() => {
      this.stallTimer = undefined;
      if (generation !== this.generation || !this.running) return;
      const idle = this.deps.clock.now() - this.lastFrameAt;
      if (idle < this.stallTimeoutMs) {
        this.armStallTimer(generation, this.stallTimeoutMs - idle);
        return;
      }
      this.deps.logger.warn({ source: this.description, idleMs: idle }, 'camera stalled: no frame within stallTimeout');
      this.setStatus('stalled');
      this.scheduleRestart();
    }, ms);
  }

  private onFailure(generation: number, err: unknown): void {
    if (generation !== this.generation || !this.running) return;
    this.lastError = err instanceof Error ? err : new Error(String(err));
    this.deps.logger.warn({ source: this.description, err: errorMessage(err), retryInMs: this.nextDelayMs() }, 'camera failed; will restart');
    this.setStatus('offline');
    if (this.listenerCount('error') > 0) this.emit('error', this.lastError);
    this.scheduleRestart();
  }

  private onEnd(generation: number): void {
    if (generation !== this.generation || !this.running) return;
    this.running = false;
    this.generation += 1;
    this.clearTimers();
    void this.teardown();
    this.setStatus('offline');
    this.emit('end');
  }

  private scheduleRestart(): void {
    this.generation += 1; // ignore anything the old source still says
    this.deps.clock.clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    const delay = this.nextDelayMs();
    this.attempt += 1;
    void this.teardown();
    this.deps.clock.clearTimeout(this.restartTimer);
    this.restartTimer = this.deps.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.running) return;
      this.restarts += 1;
      void this.launch('restarting');
    }, delay);
  }

  private async teardown(): Promise<void> {
    const source = this.source;
    this.source = undefined;
    if (!source) return;
    try {
      await source.stop();
    } catch (err) {
      this.deps.logger.warn({ source: this.description, err: errorMessage(err) }, 'stopping camera source failed');
    }
    source.removeAllListeners();
    source.on('error', () => {}); // a late 'error' from the discarded source must not throw
  }

  private clearTimers(): void {
    this.deps.clock.clearTimeout(this.stallTimer);
    this.deps.clock.clearTimeout(this.restartTimer);
    this.stallTimer = undefined;
    this.restartTimer = undefined;
  }

  private setStatus(status: CameraStatus): void {
    if (status === this.currentStatus && status !== 'starting') return;
    this.currentStatus = status;
    this.emit('status', status);
  }
}
