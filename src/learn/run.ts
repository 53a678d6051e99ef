import type { Logger } from '../logger.js';
import { formatReport } from './metrics.js';
import type { TrainOptions } from './options.js';
import { terminalProgress } from './progress.js';

/** Composition root of `edgecam train`: wires the real preprocessing and progress bars, runs the chosen arch. */
export async function runTraining(ctx: { logger: Logger; backend: string }, o: TrainOptions): Promise<{ dir: string; text: string }> {
  const { preprocessImage } = await import('../preprocess/image.js');
  const { assertModelFolderWritable } = await import('../models/folder.js');
  // Before any work: an existing --out would otherwise only be refused when the trained model is written.
  await assertModelFolderWritable(o.out, o.force);
  const progress = await terminalProgress(ctx.logger);
  // First Ctrl-C / SIGTERM: finish this epoch, restore the best weights and write the model; second: quit now.
  let stopRequested = false;
  const onSignal = (): void => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\nstopping after this epoch and saving the best weights so far (signal again to quit without saving)\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const deps = { logger: ctx.logger, preprocess: preprocessImage, progress, backend: ctx.backend, shouldStop: () => stopRequested };
  const outcome = o.arch === 'cnn'
    ? await (await import('./train-cnn.js')).trainCnn(deps, o)
    : await (await import('./transfer.js')).trainTransfer(deps, o);
  const s = outcome.summary;
  const lines = [
    `wrote ${outcome.folder.dir} (${s.fit.history.length} epochs, best epoch ${s.fit.bestEpoch}${s.fit.stoppedEarly ? ', stopped early' : ''}, ${s.trainSeconds.toFixed(0)} s, backend ${s.backend})`,
  ];
  if (s.dataset.skipped.length) lines.push(`skipped ${s.dataset.skipped.length} unreadable image(s): ${s.dataset.skipped.map((k) => k.path).join(', ')}`);
  if (s.exportParityMaxAbsDiff !== undefined) lines.push(`ONNX export parity: max |tfjs − onnxruntime| = ${s.exportParityMaxAbsDiff.toExponential(2)}`);
  if (s.val) lines.push('', 'validation:', formatReport(s.val));
  return { dir: outcome.folder.dir, text: lines.join('\n') };
}
