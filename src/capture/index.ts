/** Public surface of capture: what the daemon, CLI, bench and tests import. */
export type { CameraStatus, CaptureEvents, CaptureOptions, CaptureSource } from './source.js';
export { CaptureError } from './errors.js';
export { createCaptureSource, createWatchedSource, parseSourceSpec, SOURCE_KINDS, type CaptureDeps, type CaptureSourceOptions, type SourceKind } from './create.js';
export { Watchdog, type WatchdogOptions, type WatchdogDeps } from './watchdog.js';
export { FfmpegSource, type FfmpegSourceOptions, type FfmpegSourceDeps, type SpawnFn } from './ffmpeg-source.js';
export { buildFfmpegArgs, ffmpegHint } from './ffmpeg-args.js';
export { FolderSource, listImages, IMAGE_EXTENSIONS, type FolderSourceOptions } from './folder-source.js';
export { SnapshotSource, type SnapshotSourceOptions, type FetchFn } from './snapshot-source.js';
export { WebcamSource, type WebcamSourceOptions, type NodeWebcamModule, type NodeWebcamCamera } from './webcam-source.js';
export { MjpegSplitter } from './mjpeg-splitter.js';
export { maskCredentials } from './mask.js';
export { grabFrame } from './grab.js';
export { listCameras, parseV4l2Devices, type CameraDevice } from './v4l2-devices.js';
