import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { evaluateModel, evaluationJson } from '../../src/learn/evaluate.js';
import { classificationReport, formatReport } from '../../src/learn/metrics.js';
import { silentLogger } from '../../src/logger.js';
import { writeModelFolder } from '../../src/models/folder.js';
import { exportLayersModelToOnnx } from '../../src/onnx/tfjs-export.js';
import { preprocessImage } from '../../src/preprocess/image.js';

await tf.setBackend('cpu');

const LABELS = ['blue', 'green', 'red'];
const COLOURS: Record<string, [number, number, number]> = { red: [230, 20, 20], green: [20, 230, 20], blue: [20, 20, 230] };

/** A model that answers "the dominant colour": mean pixel → Dense with hand-set weights → softmax. */
async function colourModelFolder(dir: string): Promise<void> {
  const model = tf.sequential();
  model.add(tf.layers.globalAveragePooling2d({ inputShape: [4, 4, 3] }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  // channel R → class 2 (red), G → 1 (green), B → 0 (blue)
  model.layers[1]!.setWeights([tf.tensor2d([[0, 0, 8], [0, 8, 0], [8, 0, 0]]), tf.zeros([3])]);
  const e = await exportLayersModelToOnnx(model, { inputName: 'input', outputName: 'scores', layout: 'NHWC' });
  await writeModelFolder(dir, {
    modelBytes: e.modelBytes,
    manifest: {
      name: 'colours', version: '1', created: new Date().toISOString(), labels: LABELS,
      input: { name: 'input', shape: [-1, 4, 4, 3], layout: 'NHWC', channels: 3, colorOrder: 'RGB' },
      preprocess: { resize: 'squash', size: [4, 4], scale: 1 / 255 },
      output: { name: 'scores', kind: 'softmax' },
    },
  });
  model.dispose();
}

async function png(rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width: 6, height: 6, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

test('evaluate reports accuracy, per-class precision/recall/F1, confusion and mistakes right on a hand-made case', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-eval-'));
  try {
    await colourModelFolder(join(dir, 'model'));
    // folder (true label) → colours of its images (what the model will answer)
    const content: Record<string, string[]> = { blue: ['blue', 'blue', 'red'], green: ['green', 'green', 'green'], red: ['red', 'red', 'green', 'blue'] };
    for (const [cls, colours] of Object.entries(content)) {
      await mkdir(join(dir, 'data', cls), { recursive: true });
      for (const [i, c] of colours.entries()) await writeFile(join(dir, 'data', cls, `${i}-${c}.png`), await png(COLOURS[c]!));
    }
    await writeFile(join(dir, 'data', 'red', 'zz-broken.png'), Buffer.from('\x89PNG\r\n\x1a\n not really'));
    const r = await evaluateModel({ logger: silentLogger(), preprocess: preprocessImage }, { modelDir: join(dir, 'model'), dataset: join(dir, 'data'), providers: ['cpu'] });
    const j = evaluationJson(r);
    assert.deepEqual(Object.keys(j).slice(0, 5), ['accuracy', 'n', 'perClass', 'confusion', 'labels']);
    assert.equal(j.n, 10);
    assert.equal(j.accuracy, 0.7);
    assert.deepEqual(j.labels, LABELS);
    assert.deepEqual(j.confusion, [[2, 0, 1], [0, 3, 0], [1, 1, 2]]);
    const pc = r.report.perClass;
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    close(pc.blue!.precision, 2 / 3); close(pc.blue!.recall, 2 / 3); close(pc.blue!.f1, 2 / 3);
    close(pc.green!.precision, 3 / 4); close(pc.green!.recall, 1); close(pc.green!.f1, 6 / 7);
    close(pc.red!.precision, 2 / 3); close(pc.red!.recall, 1 / 2); close(pc.red!.f1, 4 / 7);
    assert.deepEqual([pc.blue!.support, pc.green!.support, pc.red!.support], [3, 3, 4]);
    assert.equal(r.mistakes.length, 3);
    assert.deepEqual(r.mistakes.map((m) => `${m.actual}->${m.predicted}`).sort(), ['blue->red', 'red->blue', 'red->green']);
    assert.ok(r.mistakes.every((m, i) => i === 0 || r.mistakes[i - 1]!.confidence >= m.confidence));
    assert.deepEqual(r.skipped.map((s) => s.path), [join(dir, 'data', 'red', 'zz-broken.png')]);
    assert.match(formatReport(r.report, r.mistakes), /accuracy 70\.00% on 10 images/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('classificationReport: a class never predicted has precision 0, not NaN', () => {
  const r = classificationReport([0, 0, 1, 1], [0, 0, 0, 0], ['a', 'b']);
  assert.equal(r.accuracy, 0.5);
  assert.equal(r.perClass.b!.precision, 0);
  assert.equal(r.perClass.b!.f1, 0);
  assert.equal(r.perClass.a!.precision, 0.5);
});

test('evaluate refuses a dataset folder the model has no label for', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-eval-'));
  try {
    await colourModelFolder(join(dir, 'model'));
    await mkdir(join(dir, 'data', 'purple'), { recursive: true });
    await writeFile(join(dir, 'data', 'purple', 'a.png'), await png([120, 0, 120]));
    await assert.rejects(evaluateModel({ logger: silentLogger(), preprocess: preprocessImage }, { modelDir: join(dir, 'model'), dataset: join(dir, 'data'), providers: ['cpu'] }),
      (e: Error & { code?: string }) => e.code === 'DATASET_UNKNOWN_CLASS' && /purple/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
