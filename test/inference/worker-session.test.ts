import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClassifier } from '../../src/inference/engine.js';
import { createOrtWorkerSession } from '../../src/inference/worker-session.js';
import { silentLogger } from '../../src/logger.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { preprocessSpecOf } from '../../src/models/manifest.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { solidJpeg, writeColourModel } from '../daemon/fixtures.js';

/** ONNX Runtime in a worker thread (the bench's --inference worker): same answers as on the main thread, clean release. */

test('worker-thread session: same scores as the main-thread session, caller keeps its tensors, concurrent runs, errors after release', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-worker-session-'));
  try {
    await writeColourModel(join(dir, 'model'), ['red', 'green', 'blue']);
    const folder = await loadModelFolder(join(dir, 'model'));
    const spec = preprocessSpecOf(folder.manifest);
    const onMain = await createClassifier({ logger: silentLogger() }, { folder, providers: ['cpu'] });
    const inWorker = await createClassifier({ logger: silentLogger(), sessionFactory: createOrtWorkerSession }, { folder, providers: ['cpu'] });
    const tensors = await Promise.all([[240, 10, 10], [10, 240, 10], [10, 10, 240]].map(async ([r, g, b]) => preprocessImage(await solidJpeg(r!, g!, b!), spec)));
    const before = tensors.map((t) => Float32Array.from(t.data));
    const [a, b] = await Promise.all([Promise.all(tensors.map((t) => onMain.classify(t))), Promise.all(tensors.map((t) => inWorker.classify(t)))]);
    assert.deepEqual(b.map((c) => c.scores.labels[c.scores.probabilities.indexOf(Math.max(...c.scores.probabilities))]), ['red', 'green', 'blue']);
    for (let i = 0; i < 3; i++) {
      b[i]!.scores.probabilities.forEach((p, j) => assert.ok(Math.abs(p - a[i]!.scores.probabilities[j]!) < 1e-6, `image ${i} class ${j}`));
    }
    tensors.forEach((t, i) => assert.deepEqual(t.data, before[i], 'inputs are copied, not taken away from the caller'));
    await inWorker.dispose();
    await assert.rejects(inWorker.classify(tensors[0]!), /unloaded|INFERENCE_DISPOSED/);
    await onMain.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('worker-thread session: a model ONNX Runtime rejects fails creation with its message, and leaves no thread behind', async () => {
  await assert.rejects(createOrtWorkerSession(new Uint8Array([1, 2, 3, 4]), { executionProviders: ['cpu'] }), (err: unknown) => err instanceof Error && err.message.length > 0);
});
