import type { EventEmitter } from 'node:events';
import type { Component, Frame } from '../types.js';

/** What a camera is doing, published on MQTT and /healthz. */
export type CameraStatus = 'starting' | 'online' | 'stalled' | 'restarting' | 'offline';

export interface CaptureEvents {
  frame: [Frame];
  /** A problem the source could not hide (device missing, stream ended). The watchdog decides what to do. */
  error: [Error];
  status: [CameraStatus];
}

/**
 * One interface for every camera kind (DESIGN.md convention 4, after Edge Impulse's ICamera).
 * start() resolves once the source is running (not necessarily once the first frame arrived).
 */
export interface CaptureSource extends EventEmitter<CaptureEvents>, Component {
  /** Human-readable description for logs, e.g. `ffmpeg:rtsp://cam/stream`. Secrets in URLs are masked. */
  readonly description: string;
}
