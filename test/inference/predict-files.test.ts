import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectImageFiles, predictFiles, summarize, type Prediction } from '../../src/inference/predict-files.js';
import type { Classifier } from '../../src/inference/types.js';
import type { Manifest } from '../../src/models/manifest.js';
import { encode } from '../preprocess/images.js';

test('collectImageFiles: folders walked recursively and sorted, image extensions only, symlinked folders not followed, files kept as given', async () => {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-collect-'));
  try {
    await mkdir(join(root, 'b', 'c'), { recursive: true });
    for (const f of ['z.JPG', 'a.png', 'notes.txt', 'b/c/deep.webp', 'b/x.jpeg', 'b/.hidden.gif']) await writeFile(join(root, f), '');
    await symlink(root, join(root, 'b', 'loop')); // would recurse forever if followed
    const { files, walkedFolders } = await collectImageFiles([root, join(root, 'notes.txt'), join(root, 'missing.jpg')]);
    assert.equal(walkedFolders, true);
    assert.deepEqual(files.map((f) => f.slice(root.length + 1)), ['a.png', 'b/.hidden.gif', 'b/c/deep.webp', 'b/x.jpeg', 'z.JPG', 'notes.txt', 'missing.jpg']);
    assert.equal((await collectImageFiles([join(root, 'a.png')])).walkedFolders, false);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('predictFiles: results and callbacks in input order even when later files finish first; bad files become entries', async () => {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-predict-files-'));
  try {
    const manifest = {
      name: 'm', version: '1', labels: ['dark', 'light'],
      input: { name: 'input', shape: [-1, 3, 2, 2], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
      preprocess: { resize: 'squash', size: [2, 2], scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], padColor: [0, 0, 0] },
      output: { name: 'out', kind: 'probabilities' },
    } as unknown as Manifest;
    let calls = 0;
    const classifier: Classifier = {
      manifest, provider: 'cpu', dispose: async () => {},
      classify: async (t) => {
        // The first image answers last, so ordering must not follow completion.
        if (calls++ === 0) await new Promise((r) => setTimeout(r, 30));
        const light = t.data[0]!;
        return { scores: { labels: ['dark', 'light'], probabilities: [1 - light, light] }, latencyMs: 0 };
      },
    };
    const white = join(root, 'white.png');
    const black = join(root, 'black.png');
    await writeFile(white, await encode(4, 4, 3, () => [255, 255, 255]));
    await writeFile(black, await encode(4, 4, 3, () => [0, 0, 0]));
    await writeFile(join(root, 'bad.jpg'), 'nope');
    const seen: number[] = [];
    const results = await predictFiles(classifier, [white, black, join(root, 'bad.jpg'), join(root, 'gone.png')], { top: 2, concurrency: 3, onResult: (_p, i) => seen.push(i) });
    assert.deepEqual(seen, [0, 1, 2, 3]);
    assert.deepEqual(results[0], { file: white, label: 'light', confidence: 1, top: [{ label: 'light', score: 1 }, { label: 'dark', score: 0 }] });
    assert.equal((results[1] as { label: string }).label, 'dark');
    assert.equal((results[2] as { code: string }).code, 'IMAGE_UNREADABLE');
    assert.equal((results[3] as { code: string }).code, 'FILE_NOT_FOUND');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('summarize: counts per label, most frequent first, failures counted', () => {
  const p = (label: string): Prediction => ({ file: label, label, confidence: 1, top: [] });
  const s = summarize([p('cat'), p('dog'), p('cat'), { file: 'x', error: 'broken' }, p('bird')]);
  assert.deepEqual(s, { total: 5, classified: 4, failed: 1, perLabel: [{ label: 'cat', count: 2 }, { label: 'bird', count: 1 }, { label: 'dog', count: 1 }] });
});
