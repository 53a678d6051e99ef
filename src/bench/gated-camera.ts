import { EventEmitter } from 'node:events';
import type { CameraStatus, CaptureEvents } from '../capture/source.js';
import type { Watchdog } from '../capture/watchdog.js';
import type { WatchedCamera } from '../daemon.js';

/**
 * The daemon's camera with a gate the bench controls: frames flow only while the gate is open (the real watchdog
 * and folder source run), and nothing runs while it is closed, so the bench can time the stages alone in between
 * without a camera reading files in the background. The daemon sees an ordinary camera that goes offline and
 * comes back.
 */
export class GatedCamera extends EventEmitter<CaptureEvents> implements WatchedCamera {
  readonly description: string;
  private started = false;
  private open = false;

  constructor(private readonly inner: Watchdog, options: { openAtStart: boolean }) {
    super();
    this.description = inner.description;
    this.open = options.openAtStart;
    inner.on('frame', (f) => this.emit('frame', f));
    inner.on('status', (s) => this.emit('status', s));
    inner.on('error', (e) => { if (this.listenerCount('error') > 0) this.emit('error', e); });
    inner.on('end', () => this.emit('end'));
  }

  get status(): CameraStatus {
    return this.inner.status;
  }

  get restarts(): number {
    return this.inner.restarts;
  }

  get lastError(): Error | undefined {
    return this.inner.lastError;
  }

  async start(): Promise<void> {
    this.started = true;
    if (this.open) await this.inner.start();
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.inner.stop();
  }

  async setOpen(open: boolean): Promise<void> {
    if (open === this.open) return;
    this.open = open;
    if (!this.started) return;
    if (open) await this.inner.start();
    else await this.inner.stop();
  }
}
