import { mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';
import { BaseSource } from './base-source.js';
import { CaptureError } from './errors.js';
import { stripAnsi } from './mask.js';
import type { CaptureOptions } from './source.js';
import { translateExecError, translateFswebcamStderr } from './webcam-errors.js';

/** The part of node-webcam edgecam uses; tests inject a fake with the same behaviour. */
export interface NodeWebcamCamera {
  capture(location: string, callback: (err: Error | null, data?: unknown) => void): void;
  /** node-webcam calls this with fswebcam's stderr; returning an Error fails the capture. */
  runCaptureValidations?: (stderr: string) => Error | null;
}
export interface NodeWebcamModule {
  create(options: Record<string, unknown>): NodeWebcamCamera;
}

export interface WebcamSourceOptions extends CaptureOptions {
  /** A V4L2 device path, strictly /dev/videoN (node-webcam puts it into a shell command). */
  device: string;
  /** JPEG quality 1-100 (default 85). */
  quality?: number;
  /** Frames fswebcam discards before keeping one, so auto-exposure settles (default 0). */
  skipFrames?: number;
}

export interface WebcamSourceDeps {
  logger: Logger;
  clock: Clock;
  /** Defaults to the real node-webcam package. */
  webcam?: NodeWebcamModule;
}

const DEVICE = /^\/dev\/video\d+$/;
const SAFE_PATH = /^[\w/.-]+$/;

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CaptureError('CAPTURE_OPTIONS_INVALID', `${name} must be a whole number from ${min} to ${max}, got ${value}.`);
  }
  return value;
}

/**
 * USB webcams through node-webcam (fswebcam): one still per poll, at `fps` (default 1; fswebcam opens the device for
 * every shot, so more than 1-2 fps is unrealistic: use ffmpeg:/dev/videoN for video rates). Each shot is written to
 * a private temporary folder and read back, because node-webcam's in-memory mode decodes the JPEG as text.
 * fswebcam's stderr is translated into clear errors (no device, busy, permission denied); any failure stops the
 * source and the watchdog restarts it with backoff.
 */
export class WebcamSource extends BaseSource {
  readonly description: string;
  private camera: NodeWebcamCamera | undefined;
  private dir: string | undefined;
  private running = false;
  private lastStderr = '';

  constructor(private readonly deps: WebcamSourceDeps, private readonly options: WebcamSourceOptions) {
    super(deps);
    if (!DEVICE.test(options.device)) {
      throw new CaptureError('CAPTURE_SPEC_INVALID', `"${options.device}" is not a camera device path; write it as /dev/video0 (webcam:/dev/video0).`);
    }
    this.description = `webcam:${options.device}`;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const o = this.options;
    const fps = o.fps ?? 1;
    if (!Number.isFinite(fps) || fps <= 0) throw new CaptureError('CAPTURE_OPTIONS_INVALID', `fps must be a positive number, got ${fps}.`);
    const settings = {
      width: checkInteger('width', o.width ?? 640, 16, 8192),
      height: checkInteger('height', o.height ?? 480, 16, 8192),
      quality: checkInteger('quality', o.quality ?? 85, 1, 100),
      skip: o.skipFrames ? checkInteger('skipFrames', o.skipFrames, 1, 1000) : false,
    };
    const base = SAFE_PATH.test(tmpdir()) ? tmpdir() : '/tmp';
    this.dir = await mkdtemp(join(base, 'edgecam-webcam-'));
    const webcam = this.deps.webcam ?? (createRequire(import.meta.url)('node-webcam') as NodeWebcamModule);
    const camera = webcam.create({ ...settings, device: o.device, output: 'jpeg', callbackReturn: 'location', saveShots: false, verbose: false });
    camera.runCaptureValidations = (stderr: string) => {
      this.lastStderr = stderr;
      return translateFswebcamStderr(stderr, o.device);
    };
    this.camera = camera;
    this.running = true;
    this.setStatus('starting');
    this.scheduleTick(0, () => this.shoot());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelTick();
    this.camera = undefined;
    const dir = this.dir;
    this.dir = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    this.setStatus('offline');
  }

  private async shoot(): Promise<void> {
    const camera = this.camera;
    const dir = this.dir;
    if (!this.running || !camera || !dir) return;
    const began = this.deps.clock.now();
    const location = join(dir, 'shot.jpg');
    try {
      this.lastStderr = '';
      await new Promise<void>((resolve, reject) => camera.capture(location, (err) => (err ? reject(err) : resolve())));
      const jpeg = await readFile(location).catch((err: unknown) => {
        const said = stripAnsi(this.lastStderr).trim();
        throw new CaptureError('WEBCAM_FAILED', `fswebcam produced no image from ${this.options.device}${said ? `: ${said}` : ''}.`, { cause: err });
      });
      await unlink(location).catch(() => {});
      if (!this.running) return;
      this.setStatus('online');
      this.emitFrame(jpeg);
    } catch (err) {
      if (!this.running) return;
      this.running = false;
      this.fail(err instanceof CaptureError ? err : translateExecError(err as Error, this.options.device));
      return;
    }
    const period = 1000 / (this.options.fps ?? 1);
    this.scheduleTick(Math.max(0, period - (this.deps.clock.now() - began)), () => this.shoot());
  }
}
