import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { loadModelFolder, sha256Hex, writeModelFolder } from '../../src/models/folder.js';
import { tinyClassifierOnnx, tinyManifest, writeTinyModelFolder } from '../fakes/onnx-fixtures.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-folder-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

const rejectsWith = (code: string, ...mentions: RegExp[]) => (e: unknown) => {
  assert.ok(e instanceof ModelError, `expected ModelError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const m of mentions) assert.match(e.message, m);
  return true;
};

/** Write a tiny folder, then replace manifest.json with `edit(manifest)`. */
async function folderWithManifest(dir: string, edit: (m: Record<string, any>) => void): Promise<string> {
  const f = join(dir, 'm');
  await writeTinyModelFolder(f, { labels: 3, inputSize: 16 });
  const m = JSON.parse(await readFile(join(f, 'manifest.json'), 'utf8'));
  edit(m);
  await writeFile(join(f, 'manifest.json'), JSON.stringify(m));
  return f;
}

test('write → load round trip: manifest, sha256, labels.txt, extra files, no temp dirs left', () => withTmp(async (dir) => {
  const modelBytes = tinyClassifierOnnx({ labels: 2 });
  const written = await writeModelFolder(join(dir, 'cats'), { modelBytes, manifest: tinyManifest({ labelNames: ['cat', 'no cat'] }), extraFiles: { 'README.md': '# cats\n' } });
  assert.equal(written.manifest.sha256, sha256Hex(modelBytes));
  const loaded = await loadModelFolder(join(dir, 'cats'));
  assert.deepEqual(loaded.manifest, written.manifest);
  assert.deepEqual(loaded.modelBytes, modelBytes);
  assert.equal(await readFile(join(dir, 'cats', 'labels.txt'), 'utf8'), 'cat\nno cat\n');
  assert.equal(await readFile(join(dir, 'cats', 'README.md'), 'utf8'), '# cats\n');
  assert.deepEqual((await readdir(dir)).sort(), ['cats']);
  assert.deepEqual((await readdir(join(dir, 'cats'))).sort(), ['README.md', 'labels.txt', 'manifest.json', 'model.onnx']);
}));

test('write refuses to clobber a non-empty folder unless asked, and refuses bad extra file names', () => withTmp(async (dir) => {
  const target = join(dir, 'out');
  await mkdir(target);
  await writeFile(join(target, 'precious.txt'), 'x');
  const opts = { modelBytes: tinyClassifierOnnx(), manifest: tinyManifest() };
  await assert.rejects(writeModelFolder(target, opts), rejectsWith('MODEL_FOLDER_EXISTS', /--force/));
  await writeModelFolder(target, { ...opts, overwrite: true });
  assert.deepEqual((await readdir(target)).sort(), ['labels.txt', 'manifest.json', 'model.onnx']);
  assert.deepEqual((await readdir(dir)).sort(), ['out'], 'old copy removed');
  await assert.rejects(writeModelFolder(join(dir, 'x'), { ...opts, extraFiles: { '../evil': 'x' } }), rejectsWith('MODEL_FOLDER_BAD_FILE'));
}));

test('write refuses a manifest that disagrees with the graph', () => withTmp(async (dir) => {
  await assert.rejects(writeModelFolder(join(dir, 'x'), { modelBytes: tinyClassifierOnnx({ labels: 3 }), manifest: tinyManifest({ labels: 4 }) }),
    rejectsWith('MODEL_MANIFEST_MISMATCH', /labels: 4 labels but output "probs" has 3 classes/));
  await assert.rejects(readdir(join(dir, 'x')));
}));

test('missing folder, manifest or model give the fix', () => withTmp(async (dir) => {
  await assert.rejects(loadModelFolder(join(dir, 'nope')), rejectsWith('MODEL_FOLDER_NOT_FOUND', /does not exist/));
  const f = join(dir, 'f');
  await writeTinyModelFolder(f);
  await rm(join(f, 'model.onnx'));
  await assert.rejects(loadModelFolder(f), rejectsWith('MODEL_ONNX_MISSING', /model\.onnx/));
  await rm(join(f, 'manifest.json'));
  await assert.rejects(loadModelFolder(f), rejectsWith('MODEL_MANIFEST_MISSING', /edgecam model wrap/));
}));

test('unparsable and invalid manifests list every problem', () => withTmp(async (dir) => {
  const f = join(dir, 'f');
  await writeTinyModelFolder(f);
  await writeFile(join(f, 'manifest.json'), '{ "name": "x", ');
  await assert.rejects(loadModelFolder(f), rejectsWith('MODEL_MANIFEST_UNPARSABLE', /not valid JSON/));
  const g = await folderWithManifest(dir, (m) => { delete m.labels; m.input.layout = 'CHW'; m.preprocess.scale = -1; m.extra = 1; });
  await assert.rejects(loadModelFolder(g), rejectsWith('MODEL_MANIFEST_INVALID', /labels/, /input\.layout/, /preprocess\.scale/, /extra/));
}));

test('a manifest lying about input name, shape, layout, output, labels, embedding or sha256 is rejected', () => withTmp(async (dir) => {
  const cases: [string, (m: Record<string, any>) => void, RegExp][] = [
    ['input name', (m) => { m.input.name = 'image'; }, /input\.name: "image" is not a graph input \(graph inputs: "input"\)/],
    ['input size', (m) => { m.input.shape = [-1, 3, 32, 32]; m.preprocess.size = [32, 32]; }, /input\.shape\[2\]: manifest says 32 but the graph has 16/],
    ['layout', (m) => { m.input.layout = 'NHWC'; m.input.shape = [-1, 16, 16, 3]; }, /input\.layout: manifest says NHWC but graph input \[N,3,16,16\] is NCHW/],
    ['output name', (m) => { m.output.name = 'scores'; }, /output\.name: "scores" is not a graph output/],
    ['labels', (m) => { m.labels = ['a', 'b']; }, /labels: 2 labels but output "probs" has 3 classes/],
    ['embedding', (m) => { m.output.embedding = { name: 'embedding', size: 4 }; }, /output\.embedding\.name/],
    ['sha256', (m) => { m.sha256 = '0'.repeat(64); }, /sha256: manifest says 0+ but model\.onnx hashes to [0-9a-f]{64}/],
  ];
  for (const [what, edit, message] of cases) {
    const f = await folderWithManifest(dir, edit);
    await assert.rejects(loadModelFolder(f), rejectsWith('MODEL_MANIFEST_MISMATCH', message), what);
    await rm(f, { recursive: true });
  }
}));

test('a replaced model.onnx is caught by the checksum, a truncated one by the decoder', () => withTmp(async (dir) => {
  const f = join(dir, 'f');
  await writeTinyModelFolder(f, { seed: 1 });
  await writeFile(join(f, 'model.onnx'), tinyClassifierOnnx({ seed: 2 }));
  await assert.rejects(loadModelFolder(f), rejectsWith('MODEL_MANIFEST_MISMATCH', /sha256/));
  const bytes = tinyClassifierOnnx();
  await writeFile(join(f, 'model.onnx'), bytes.subarray(0, bytes.length - 40));
  await assert.rejects(loadModelFolder(f), (e: unknown) => e instanceof ModelError && /truncated/.test(e.message));
}));
