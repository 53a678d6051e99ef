import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TrainOptions } from '../../src/learn/options.js';
import { runTraining } from '../../src/learn/run.js';
import { silentLogger } from '../../src/logger.js';

test('train refuses an existing non-empty --out before any work, not after training', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-run-'));
  try {
    const out = join(dir, 'out');
    await mkdir(out);
    await writeFile(join(out, 'model.onnx'), 'an earlier model');
    // The dataset does not exist: had training started, the error would be about the dataset.
    const o = {
      dataset: join(dir, 'no-such-dataset'), out, arch: 'cnn', epochs: 1, batchSize: 8, lr: 0.01, valSplit: 0.25, seed: 1, patience: 0,
      classWeights: true, weightDecay: 0, force: false,
      cnn: { inputSize: 8, filters: [4], convsPerBlock: 1, dense: [], dropout: 0, batchNorm: false, resize: 'squash' },
      transfer: { hidden: 0, dropout: 0, augmentCopies: 0, cacheDir: join(dir, 'cache') },
    } satisfies TrainOptions;
    await assert.rejects(runTraining({ logger: silentLogger(), backend: 'cpu' }, o), (e: Error & { code?: string }) => e.code === 'MODEL_FOLDER_EXISTS' && /--force/.test(e.message));
    // With --force the folder check passes and the next problem, the missing dataset, is what is reported.
    await assert.rejects(runTraining({ logger: silentLogger(), backend: 'cpu' }, { ...o, force: true }), (e: Error & { code?: string }) => e.code !== 'MODEL_FOLDER_EXISTS' && /no-such-dataset/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
