import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { Clock, Frame } from '../types.js';
import type { CameraStatus, CaptureEvents, CaptureSource } from './source.js';

/** Shared plumbing: sequence numbers, status changes, and 'error' that never throws when nobody listens. */
export abstract class BaseSource extends EventEmitter<CaptureEvents> implements CaptureSource {
  abstract readonly description: string;
  /** Frames emitted since construction. */
  framesEmitted = 0;
  private seq = 0;
  private lastStatus: CameraStatus | undefined;
  private tickTimer: NodeJS.Timeout | number | undefined;

  constructor(protected readonly base: { logger: Logger; clock: Clock }) {
    super();
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  get status(): CameraStatus | undefined {
    return this.lastStatus;
  }

  protected emitFrame(data: Buffer, origin?: string): void {
    this.framesEmitted += 1;
    const frame: Frame = { data, timestamp: this.base.clock.now(), seq: this.seq++, origin: origin ?? this.description };
    this.emit('frame', frame);
  }

  protected setStatus(status: CameraStatus): void {
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.emit('status', status);
  }

  /** Runs `tick` after `ms` on the injected clock; one pending tick per source (the polling sources' heartbeat). */
  protected scheduleTick(ms: number, tick: () => Promise<void>): void {
    this.tickTimer = this.base.clock.setTimeout(() => {
      this.tickTimer = undefined;
      void tick();
    }, ms);
  }

  protected cancelTick(): void {
    this.base.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }

  protected fail(err: Error): void {
    this.base.logger.warn({ source: this.description, err: err.message }, 'capture source failed');
    this.setStatus('offline');
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
