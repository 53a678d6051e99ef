import type { Clock, Frame } from '../types.js';
import { CaptureError } from './errors.js';
import type { CaptureSource } from './source.js';

/**
 * Starts `source`, resolves with its first frame, and always stops it. Rejects with the source's own error
 * (e.g. WEBCAM_NOT_FOUND), or GRAB_TIMEOUT when no frame arrived in time.
 */
export async function grabFrame(source: CaptureSource, clock: Clock, timeoutMs = 10000): Promise<Frame> {
  let timer: NodeJS.Timeout | number | undefined;
  const cleanup: Array<() => void> = [];
  const first = new Promise<Frame>((resolve, reject) => {
    const onFrame = (frame: Frame) => resolve(frame);
    const onError = (err: Error) => reject(err);
    const onEnd = () => reject(new CaptureError('GRAB_TIMEOUT', `${source.description} ended without a frame.`));
    source.on('frame', onFrame);
    source.on('error', onError);
    source.on('end', onEnd);
    cleanup.push(() => { source.off('frame', onFrame); source.off('error', onError); source.off('end', onEnd); });
    timer = clock.setTimeout(() => reject(new CaptureError('GRAB_TIMEOUT',
      `No frame from ${source.description} within ${timeoutMs} ms. Check the camera works (\`edgecam camera list\`) or raise --timeout.`)), timeoutMs);
  });
  first.catch(() => {}); // settled below; keeps an early rejection from being reported as unhandled
  try {
    await source.start();
    return await first;
  } finally {
    clock.clearTimeout(timer);
    cleanup.forEach((f) => f());
    // The frame (or the reason there is none) matters more than a failure to stop; stop() is best effort here.
    await source.stop().catch(() => {});
  }
}
