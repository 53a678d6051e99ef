/**
 * Child process entry for fine-tuning (forked by finetune-process.ts at low priority): the daemon's process
 * keeps its event loop, ONNX session and sharp threads for classification. One request over IPC, one answer.
 *   parent → child  {type:'run', options: FinetuneOptions, logLevel}
 *   child → parent  {type:'progress', progress} … then {type:'result', result} or {type:'error', code, message}
 */
import type { FinetuneOptions, FinetuneProgress, FinetuneResult } from './finetune.js';

export type WorkerRequest = { type: 'run'; options: FinetuneOptions; logLevel?: string };
export type WorkerMessage =
  | { type: 'progress'; progress: FinetuneProgress }
  | { type: 'result'; result: FinetuneResult }
  | { type: 'error'; code: string; message: string };

async function run(req: WorkerRequest): Promise<void> {
  const send = (m: WorkerMessage): Promise<void> => new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
  try {
    const [{ createLogger }, sharp, { initTrainingBackend }, { preprocessImage }, { finetune }] = await Promise.all([
      import('../logger.js'), import('sharp'), import('./backend/index.js'), import('../preprocess/image.js'), import('./finetune.js'),
    ]);
    sharp.default.concurrency(1); // one libvips thread: leave the other core to the daemon
    const logger = createLogger({ level: req.logLevel ?? 'info', destination: process.stderr }).child({ component: 'finetune' });
    await initTrainingBackend({ logger, threads: 1 });
    const result = await finetune({ logger, preprocess: preprocessImage, onProgress: (progress) => void send({ type: 'progress', progress }) }, req.options);
    await send({ type: 'result', result });
  } catch (err) {
    await send({ type: 'error', code: (err as { code?: string }).code ?? 'FINETUNE_FAILED', message: err instanceof Error ? err.message : String(err) });
  }
  process.disconnect();
}

if (process.send) {
  process.once('message', (req: WorkerRequest) => void run(req));
}
