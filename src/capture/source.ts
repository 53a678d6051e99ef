import type { EventEmitter } from 'node:events';
import type { Component, Frame } from '../types.js';

/**
 * What a camera is doing, published on MQTT and /healthz.
 * starting: first start in progress · online: frames flowing · stalled: no frame within stallTimeout ·
 * restarting: a new attempt after a failure or stall is under way · offline: dead and waiting for the next attempt,
 * finished (folder replay `once`), or stopped.
 */
export type CameraStatus = 'starting' | 'online' | 'stalled' | 'restarting' | 'offline';

export interface CaptureEvents {
  frame: [Frame];
  /**
   * A problem the source could not hide: it has stopped producing (device missing, process exited, stream ended,
   * repeated HTTP failures). Transient per-frame problems are logged and counted inside the source instead.
   * The watchdog decides what to do. Emitted only when someone listens (an unheard 'error' would throw).
   */
  error: [Error];
  status: [CameraStatus];
  /** The source finished on purpose (folder replay with `loop: false`); the watchdog does not restart it. */
  end: [];
}

/**
 * One interface for every camera kind (DESIGN.md convention 4, after Edge Impulse's ICamera).
 * start() resolves once the source is running (not necessarily once the first frame arrived) and rejects with a
 * CaptureError when it cannot start at all.
 */
export interface CaptureSource extends EventEmitter<CaptureEvents>, Component {
  /** Human-readable description for logs, e.g. `ffmpeg:rtsp://cam/stream`. Secrets in URLs are masked. */
  readonly description: string;
}

/** Rate and size every source is asked for; sources that cannot scale (folder, snapshot) deliver images as they are. */
export interface CaptureOptions {
  /** Frames per second (poll rate for snapshot/webcam, output rate for ffmpeg, replay rate for folder; 0 = unpaced folder replay). */
  fps?: number;
  width?: number;
  height?: number;
}
