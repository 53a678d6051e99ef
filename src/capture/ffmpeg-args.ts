import { CaptureError } from './errors.js';
import type { CaptureOptions } from './source.js';

export interface FfmpegInputOptions extends CaptureOptions {
  /**
   * What ffmpeg reads: a V4L2 device (`/dev/video0`), an RTSP URL, an HTTP(S) MJPEG URL, a file, or raw ffmpeg input
   * arguments starting with `-` (e.g. `-re -f lavfi -i testsrc=size=320x240:rate=10`), split on whitespace.
   */
  input: string;
  /** V4L2 only: pixel format to ask the camera for (e.g. `mjpeg` lets USB cams deliver higher rates). */
  inputFormat?: string;
  /** JPEG quality of the output frames, ffmpeg's -q:v scale 2 (best) … 31 (worst). Default 5. */
  quality?: number;
}

export type FfmpegInputKind = 'v4l2' | 'rtsp' | 'http' | 'raw' | 'other';

export function ffmpegInputKind(input: string): FfmpegInputKind {
  if (/^\/dev\/video\d+$/.test(input)) return 'v4l2';
  if (/^rtsps?:\/\//i.test(input)) return 'rtsp';
  if (/^https?:\/\//i.test(input)) return 'http';
  if (input.startsWith('-')) return 'raw';
  return 'other';
}

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new CaptureError('CAPTURE_OPTIONS_INVALID', `${name} must be a positive number, got ${value}.`);
  }
}

/** Arguments for one long-lived ffmpeg writing an MJPEG stream (concatenated JPEGs) to stdout. */
export function buildFfmpegArgs(options: FfmpegInputOptions): string[] {
  const { input, fps, width, height } = options;
  if (!input.trim()) throw new CaptureError('CAPTURE_SPEC_INVALID', 'The ffmpeg input is empty; give a device, URL or ffmpeg input, e.g. ffmpeg:/dev/video0.');
  checkPositive('fps', fps);
  checkPositive('width', width);
  checkPositive('height', height);
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];
  switch (ffmpegInputKind(input)) {
    case 'v4l2':
      args.push('-f', 'v4l2');
      if (fps) args.push('-framerate', String(fps));
      if (width && height) args.push('-video_size', `${width}x${height}`);
      if (options.inputFormat) args.push('-input_format', options.inputFormat);
      args.push('-i', input);
      break;
    case 'rtsp':
      args.push('-rtsp_transport', 'tcp', '-i', input);
      break;
    case 'raw': {
      const raw = input.trim().split(/\s+/);
      if (!raw.includes('-i')) throw new CaptureError('CAPTURE_SPEC_INVALID', `Raw ffmpeg input "${input}" has no -i; write e.g. ffmpeg:-f lavfi -i testsrc.`);
      args.push(...raw);
      break;
    }
    default:
      args.push('-i', input);
  }
  args.push('-an');
  if (width || height) args.push('-vf', `scale=${width ?? -2}:${height ?? -2}`);
  if (fps) args.push('-r', String(fps));
  args.push('-f', 'image2pipe', '-vcodec', 'mjpeg', '-q:v', String(options.quality ?? 5), 'pipe:1');
  return args;
}

/** Turns ffmpeg's last stderr lines into the next thing the user should try (see test/fixtures/recorded/ffmpeg-*). */
export function ffmpegHint(stderr: string): string {
  const rules: Array<[RegExp, string]> = [
    [/Cannot open video device .*No such file or directory|\/dev\/video\d+: No such file or directory/i,
      'The camera device does not exist: check it is plugged in and run `edgecam camera list`.'],
    [/Permission denied/i, 'Permission denied: add the user running edgecam to the "video" group (sudo usermod -aG video <user>) and log in again.'],
    [/Device or resource busy/i, 'The camera is busy: another program (another edgecam, motion, a browser) is using it.'],
    [/Inappropriate ioctl|Not a video capture device/i, 'That path is not a video capture device; `edgecam camera list` shows the real ones.'],
    [/Connection refused/i, 'Nothing answers at that address: check the camera is on and the host/port in the URL.'],
    [/401|Unauthorized/i, 'The camera refused the credentials: check user and password in the URL.'],
    [/404|Not Found/i, 'The camera has no stream at that path: check the URL path.'],
    [/timed out|Connection timed out|No route to host|Network is unreachable/i, 'The camera did not answer in time: check the network and the address.'],
    [/Invalid data found|could not find codec parameters/i, 'ffmpeg could not understand the stream: check the URL points to a video stream.'],
  ];
  for (const [pattern, hint] of rules) if (pattern.test(stderr)) return hint;
  return 'Run the same ffmpeg input by hand to see the full output (edgecam logs the command at debug level).';
}
