import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';
import { CaptureError } from './errors.js';
import { FfmpegSource, type SpawnFn } from './ffmpeg-source.js';
import { FolderSource } from './folder-source.js';
import { maskCredentials } from './mask.js';
import { SnapshotSource, type FetchFn } from './snapshot-source.js';
import type { CaptureOptions, CaptureSource } from './source.js';
import { Watchdog, type WatchdogOptions } from './watchdog.js';
import { WebcamSource, type NodeWebcamModule } from './webcam-source.js';

export interface CaptureDeps {
  logger: Logger;
  clock: Clock;
  spawn?: SpawnFn;
  fetch?: FetchFn;
  webcam?: NodeWebcamModule;
}

/** Options for any source kind; each kind uses what applies to it. */
export interface CaptureSourceOptions extends CaptureOptions {
  /** folder: replay again after the last image (default true). */
  loop?: boolean;
  /** folder: emit each image this many times in a row (default 1). */
  repeat?: number;
  /** snapshot: per-request timeout (default 5000 ms). */
  timeoutMs?: number;
  /** snapshot: basic auth (also accepted as user:pass@ in the URL). */
  username?: string;
  password?: string;
  /** ffmpeg: binary path (default `ffmpeg`); v4l2 pixel format (e.g. mjpeg); output JPEG quality 2-31. */
  ffmpegPath?: string;
  inputFormat?: string;
  quality?: number;
}

export const SOURCE_KINDS = ['folder', 'ffmpeg', 'webcam', 'snapshot'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

const USAGE = 'Use folder:<dir>, ffmpeg:<device|rtsp://…|http://…|ffmpeg input>, webcam:/dev/videoN or snapshot:<http(s) url>.';

/** Splits `kind:rest`; throws CAPTURE_SPEC_INVALID with a suggestion when the kind is missing or unknown. */
export function parseSourceSpec(spec: string): { kind: SourceKind; target: string } {
  const colon = spec.indexOf(':');
  const kind = colon > 0 ? spec.slice(0, colon) : '';
  const target = colon > 0 ? spec.slice(colon + 1) : '';
  if ((SOURCE_KINDS as readonly string[]).includes(kind)) {
    if (!target.trim()) throw new CaptureError('CAPTURE_SPEC_INVALID', `Source "${spec}" names no ${kind} target. ${USAGE}`);
    return { kind: kind as SourceKind, target };
  }
  const shown = maskCredentials(spec);
  let suggestion = '';
  if (/^rtsps?:\/\//i.test(spec)) suggestion = ` Did you mean ffmpeg:${shown}?`;
  else if (/^https?:\/\//i.test(spec)) suggestion = ` Did you mean ffmpeg:${shown} (a video stream) or snapshot:${shown} (one JPEG per request)?`;
  else if (/^\/dev\/video\d+$/.test(spec)) suggestion = ` Did you mean ffmpeg:${spec} or webcam:${spec}?`;
  else if (!kind) suggestion = ` If it is a folder of images, write folder:${spec}.`;
  throw new CaptureError('CAPTURE_SPEC_INVALID', `Unknown capture source "${shown}".${suggestion} ${USAGE}`);
}

/** Builds (does not start) the source a spec names, e.g. `ffmpeg:rtsp://cam/stream`, `folder:./samples`. */
export function createCaptureSource(deps: CaptureDeps, spec: string, options: CaptureSourceOptions = {}): CaptureSource {
  const { kind, target } = parseSourceSpec(spec);
  const logger = deps.logger.child({ component: 'capture', source: kind });
  const base = { logger, clock: deps.clock };
  const { fps, width, height } = options;
  switch (kind) {
    case 'folder':
      return new FolderSource(base, { dir: target, fps, loop: options.loop, repeat: options.repeat });
    case 'ffmpeg':
      return new FfmpegSource({ ...base, spawn: deps.spawn }, { input: target, fps, width, height, ffmpegPath: options.ffmpegPath, inputFormat: options.inputFormat, quality: options.quality });
    case 'webcam':
      return new WebcamSource({ ...base, webcam: deps.webcam }, { device: target, fps, width, height });
    case 'snapshot':
      return new SnapshotSource({ ...base, fetch: deps.fetch }, { url: target, fps, timeoutMs: options.timeoutMs, username: options.username, password: options.password });
  }
}

/**
 * The source a daemon should use: the spec's source inside a Watchdog. The spec is checked now (a wrong spec throws
 * here, at configuration time, instead of being retried forever).
 */
export function createWatchedSource(deps: CaptureDeps, spec: string, options: CaptureSourceOptions = {}, watchdog: WatchdogOptions = {}): Watchdog {
  const first = createCaptureSource(deps, spec, options);
  let pending: CaptureSource | undefined = first;
  const factory = (): CaptureSource => {
    const source = pending ?? createCaptureSource(deps, spec, options);
    pending = undefined;
    return source;
  };
  return new Watchdog({ logger: deps.logger.child({ component: 'watchdog' }), clock: deps.clock }, factory, watchdog, first.description);
}
