import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { writeModelFolder } from '../../src/models/folder.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { softmax } from '../../src/postprocess/scores.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

interface Run { code: number; stdout: string; stderr: string }
function edgecam(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000, env: { ...process.env, EDGECAM_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/**
 * A model whose answer is known: logits = 10 × mean of each channel (pixels scaled to 0..1), labels red/green/blue.
 * A pure red image gives logits [10, 0, 0].
 */
async function colourModel(dir: string): Promise<void> {
  const b = new GraphBuilder({ name: 'colour' });
  const pooled = b.flatten(b.globalAveragePool(b.input('input', ['N', 3, 8, 8])), 1);
  const eye10 = Float32Array.from([10, 0, 0, 0, 10, 0, 0, 0, 10]);
  b.output(b.gemm(pooled, { data: eye10, dims: [3, 3] }, undefined, { transB: true, out: 'logits' }), ['N', 3]);
  await writeModelFolder(dir, {
    modelBytes: b.toBytes(),
    manifest: {
      name: 'colour', version: '1', created: '2024-01-01T00:00:00Z', labels: ['red', 'green', 'blue'],
      input: { name: 'input', shape: [-1, 3, 8, 8], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
      preprocess: { resize: 'squash', size: [8, 8], scale: 1 / 255 },
      output: { name: 'logits', kind: 'logits' },
    },
  });
}

const solid = (hex: string) => sharp({ create: { width: 40, height: 30, channels: 3, background: hex } });

async function fixture(): Promise<{ root: string; model: string; photos: string }> {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-predict-'));
  const model = join(root, 'model');
  const photos = join(root, 'photos');
  await colourModel(model);
  await mkdir(join(photos, 'nested', 'deeper'), { recursive: true });
  await solid('#ff0000').jpeg({ quality: 95 }).toFile(join(photos, 'a-red.jpg'));
  await solid('#0000ff').png().toFile(join(photos, 'nested', 'b-blue.png'));
  await solid('#00ff00').webp({ lossless: true }).toFile(join(photos, 'nested', 'deeper', 'c-green.webp'));
  await solid('#ff0000').png().toFile(join(photos, 'nested', 'd-red.PNG'));
  await writeFile(join(photos, 'broken.jpg'), 'this is not a jpeg');
  await writeFile(join(photos, 'README.txt'), 'not an image extension: skipped when walking');
  return { root, model, photos };
}

test('predict --json on a folder: walked recursively, known labels and confidences, errors as entries, exit 0', async () => {
  const { root, model, photos } = await fixture();
  try {
    const r = await edgecam(['predict', model, photos, join(root, 'missing.jpg'), '--json', '--top', '2', '--providers', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    const byName = new Map(out.map((e) => [String(e.file).slice(root.length + 1), e]));
    assert.deepEqual([...byName.keys()], ['photos/a-red.jpg', 'photos/broken.jpg', 'photos/nested/b-blue.png', 'photos/nested/d-red.PNG', 'photos/nested/deeper/c-green.webp', 'missing.jpg']);
    const pure = softmax([10, 0, 0]); // what a pure colour must score: [0.99991, 0.0000454, 0.0000454]
    for (const [name, label] of [['photos/a-red.jpg', 'red'], ['photos/nested/b-blue.png', 'blue'], ['photos/nested/deeper/c-green.webp', 'green'], ['photos/nested/d-red.PNG', 'red']]) {
      const e = byName.get(name)!;
      assert.equal(e.label, label, name);
      assert.ok(Math.abs((e.confidence as number) - pure[0]!) < 1e-3, `${name} confidence ${e.confidence}`);
      const top = e.top as Array<{ label: string; score: number }>;
      assert.equal(top.length, 2);
      assert.equal(top[0]!.label, label);
      assert.equal(top[0]!.score, e.confidence);
    }
    assert.match(String(byName.get('photos/broken.jpg')!.error), /Not an image/);
    assert.equal(byName.get('photos/broken.jpg')!.code, 'IMAGE_UNREADABLE');
    assert.match(String(byName.get('missing.jpg')!.error), /no such file/);
    // Errors and the summary go to stderr, keeping stdout pure JSON.
    assert.match(r.stderr, /cannot classify .*broken\.jpg: Not an image/);
    assert.match(r.stderr, /6 images: 4 classified, 2 failed \(model colour 1 on cpu\)/);
    assert.match(r.stderr, /\n\s+2\s+red\n\s+1\s+blue\n\s+1\s+green\n/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('predict text output: one line per image with label and confidence, then a summary per class', async () => {
  const { root, model, photos } = await fixture();
  try {
    const r = await edgecam(['predict', model, join(photos, 'a-red.jpg'), join(photos, 'nested', 'b-blue.png'), '--top', '1', '--providers', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /a-red\.jpg: red \(100\.0%\)$/);
    assert.match(lines[1]!, /b-blue\.png: blue \(100\.0%\)$/);
    assert.match(r.stdout, /2 images: 2 classified, 0 failed/);
    assert.match(r.stdout, /1\s+blue\n\s+1\s+red/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('predict exits 1 when every image fails, and names a bad model folder clearly', async () => {
  const { root, model, photos } = await fixture();
  try {
    const allBad = await edgecam(['predict', model, join(photos, 'broken.jpg'), '--providers', 'cpu']);
    assert.equal(allBad.code, 1);
    assert.match(allBad.stderr, /cannot classify .*broken\.jpg/);
    assert.match(allBad.stderr, /the image could not be classified .*\[PREDICT_ALL_FAILED\]/);

    const noModel = await edgecam(['predict', join(root, 'nope'), join(photos, 'a-red.jpg')]);
    assert.equal(noModel.code, 1);
    assert.match(noModel.stderr, /model folder .*nope does not exist.*\[MODEL_FOLDER_NOT_FOUND\]/);

    const empty = await mkdtemp(join(root, 'empty-'));
    const noImages = await edgecam(['predict', model, empty]);
    assert.equal(noImages.code, 1);
    assert.match(noImages.stderr, /no image files found .*\[PREDICT_NO_IMAGES\]/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
