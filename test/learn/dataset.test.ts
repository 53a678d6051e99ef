import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { balancedClassWeights, loadDatasetSplit, stratifiedSplit } from '../../src/learn/dataset.js';
import { loadImages } from '../../src/learn/dataset-load.js';
import { DatasetError } from '../../src/learn/errors.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { silentLogger } from '../../src/logger.js';
import type { PreprocessSpec } from '../../src/models/manifest.js';
import { writeColourDataset } from './synthetic.js';

const SPEC: PreprocessSpec = { resize: 'squash', size: [8, 8], scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0], layout: 'NHWC', colorOrder: 'RGB' };

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-ds-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('a folder of class folders is split stratified and repeatably by seed', async () => {
  await withTmp(async (dir) => {
    await writeColourDataset(dir, { red: 10, blue: 5 }, 8);
    const a = await loadDatasetSplit(dir, { valSplit: 0.2, seed: 3 });
    const b = await loadDatasetSplit(dir, { valSplit: 0.2, seed: 3 });
    const c = await loadDatasetSplit(dir, { valSplit: 0.2, seed: 4 });
    assert.deepEqual(a.labels, ['blue', 'red']);
    assert.equal(a.source, 'split');
    assert.equal(a.val.filter((f) => f.label === 1).length, 2); // 20 % of 10 red
    assert.equal(a.val.filter((f) => f.label === 0).length, 1); // 20 % of 5 blue
    assert.equal(a.train.length + a.val.length, 15);
    assert.deepEqual(a.val, b.val);
    assert.notDeepEqual(a.val.map((f) => f.path).sort(), c.val.map((f) => f.path).sort());
    const all = new Set([...a.train, ...a.val].map((f) => f.path));
    assert.equal(all.size, 15, 'no file in both splits');
  });
});

test('train/ + val/ folders are used as given; an unknown val class is a clear error', async () => {
  await withTmp(async (dir) => {
    await writeColourDataset(join(dir, 'train'), { red: 3, blue: 3 }, 8);
    await writeColourDataset(join(dir, 'val'), { red: 2, blue: 1 }, 8);
    const s = await loadDatasetSplit(dir, { valSplit: 0.2, seed: 1 });
    assert.equal(s.source, 'folders');
    assert.equal(s.train.length, 6);
    assert.equal(s.val.length, 3);
    await writeColourDataset(join(dir, 'val'), { green: 1 }, 8);
    await assert.rejects(loadDatasetSplit(dir, { valSplit: 0.2, seed: 1 }), (e: DatasetError) => e.code === 'DATASET_UNKNOWN_CLASS' && /green/.test(e.message));
  });
});

test('an empty class folder is a clear error naming the folder', async () => {
  await withTmp(async (dir) => {
    await writeColourDataset(dir, { red: 3 }, 8);
    await mkdir(join(dir, 'blue'));
    await writeFile(join(dir, 'blue', 'notes.txt'), 'not an image');
    await assert.rejects(loadDatasetSplit(dir, { valSplit: 0.2, seed: 1 }),
      (e: DatasetError) => e instanceof DatasetError && e.code === 'DATASET_EMPTY_CLASS' && e.message.includes(join(dir, 'blue')) && /Add images/.test(e.message));
  });
});

test('a missing dataset folder and a folder without class folders are clear errors', async () => {
  await withTmp(async (dir) => {
    await assert.rejects(loadDatasetSplit(join(dir, 'nope'), { valSplit: 0.2, seed: 1 }), (e: DatasetError) => e.code === 'DATASET_NOT_FOUND');
    await assert.rejects(loadDatasetSplit(dir, { valSplit: 0.2, seed: 1 }), (e: DatasetError) => e.code === 'DATASET_NO_CLASSES');
  });
});

test('a corrupt image is reported and skipped, the rest load through the shared preprocessing', async () => {
  await withTmp(async (dir) => {
    await writeColourDataset(dir, { red: 3, blue: 3 }, 8);
    const bad = join(dir, 'red', 'red_broken.jpg');
    await writeFile(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]));
    const split = await loadDatasetSplit(dir, { valSplit: 0.3, seed: 1 });
    const files = [...split.train, ...split.val];
    const warnings: unknown[] = [];
    const logger = silentLogger();
    logger.warn = ((obj: unknown) => { warnings.push(obj); }) as typeof logger.warn;
    const loaded = await loadImages({ logger, preprocess: preprocessImage }, files, SPEC);
    assert.equal(loaded.labels.length, 6);
    assert.deepEqual(loaded.skipped.map((s) => s.path), [bad]);
    assert.match(loaded.skipped[0]!.reason, /corrupt|truncated|decode|read/i);
    assert.equal(warnings.length, 1);
    assert.deepEqual(loaded.sampleDims, [8, 8, 3]);
    assert.equal(loaded.data.length, 6 * 8 * 8 * 3);
    const redIdx = loaded.labels.indexOf(split.labels.indexOf('red'));
    const px = loaded.data.subarray(redIdx * 192, redIdx * 192 + 3);
    assert.ok(px[0]! > px[2]!, 'red image has more red than blue after preprocessing');
    assert.ok(!loaded.files.includes(bad));
  });
});

test('stratified split rejects a bad fraction; balanced class weights favour the small class', () => {
  assert.throws(() => stratifiedSplit([], 2, 1.5, 1), (e: DatasetError) => e.code === 'DATASET_BAD_SPLIT');
  const w = balancedClassWeights([0, 0, 0, 1], 2);
  assert.deepEqual(w, [4 / 6, 2]);
});
