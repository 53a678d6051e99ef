import { CaptureError } from './errors.js';
import { stripAnsi } from './mask.js';

/**
 * fswebcam exits 0 even when it fails and writes its reasons to stderr in colour; node-webcam only recognises
 * "no such file or device". These rules turn the real messages (recorded in test/fixtures/recorded/fswebcam-*)
 * into errors that say what to do. The "busy" text is composed from fswebcam's own format strings
 * ("Error selecting input %i" / "VIDIOC_S_INPUT: %s") and strerror(EBUSY); it could not be recorded without a camera.
 */
export function translateFswebcamStderr(stderr: string, device: string): CaptureError | null {
  const text = stripAnsi(stderr);
  if (/stat: No such file or directory|No such file or directory/i.test(text)) {
    return new CaptureError('WEBCAM_NOT_FOUND', `No camera at ${device}. Check it is plugged in; \`edgecam camera list\` shows the cameras this computer sees.`);
  }
  if (/Permission denied/i.test(text)) {
    return new CaptureError('WEBCAM_PERMISSION', `Permission denied opening ${device}. Add the user running edgecam to the "video" group (sudo usermod -aG video <user>), then log in again or restart the service.`);
  }
  if (/Device or resource busy/i.test(text)) {
    return new CaptureError('WEBCAM_BUSY', `${device} is busy: another program (another edgecam, motion, a browser) is using it. Stop that program or choose another camera.`);
  }
  if (/Not a V4L2 device|Unable to find a source module|Inappropriate ioctl/i.test(text)) {
    return new CaptureError('WEBCAM_NOT_V4L2', `${device} is not a video capture device. \`edgecam camera list\` shows the real ones.`);
  }
  return null;
}

/** The shell could not run fswebcam at all (node-webcam runs it through /bin/sh). */
export function translateExecError(err: Error & { code?: number | string }, device: string): CaptureError {
  if (err.code === 127 || /not found/i.test(err.message)) {
    return new CaptureError('WEBCAM_TOOL_MISSING', 'fswebcam is not installed; node-webcam needs it: sudo apt install fswebcam. (Or use --source ffmpeg:/dev/video0.)', { cause: err });
  }
  return new CaptureError('WEBCAM_FAILED', `Capturing from ${device} with fswebcam failed: ${stripAnsi(err.message).trim()}`, { cause: err });
}
