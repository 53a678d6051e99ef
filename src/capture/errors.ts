import { EdgecamError } from '../errors.js';

/**
 * A camera could not be opened, stopped producing, or was configured wrongly. Codes used:
 * CAPTURE_SPEC_INVALID, CAPTURE_OPTIONS_INVALID, FFMPEG_NOT_FOUND, FFMPEG_EXITED, WEBCAM_NOT_FOUND, WEBCAM_BUSY,
 * WEBCAM_PERMISSION, WEBCAM_NOT_V4L2, WEBCAM_TOOL_MISSING, WEBCAM_FAILED, SNAPSHOT_HTTP, SNAPSHOT_TIMEOUT,
 * SNAPSHOT_NOT_JPEG, SNAPSHOT_FAILED, FOLDER_EMPTY, FOLDER_UNREADABLE, GRAB_TIMEOUT.
 */
export class CaptureError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CaptureError';
  }
}
