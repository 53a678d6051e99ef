import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { formatReport, inspectModel } from '../../src/onnx/inspect.js';
import { sha256Hex, writeModelFolder } from '../../src/models/folder.js';
import { tinyImagenetLikeOnnx, writeTinyModelFolder } from '../fakes/onnx-fixtures.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-inspect-'));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

test('inspect a prepared backbone folder: embedding output, labels, preprocessing, no problems', () => withTmp(async (dir) => {
  const f = tinyImagenetLikeOnnx({ quantized: true, classes: 3 });
  const p = await prepareBackbone(f.bytes, { name: 'bb', created: '2024-01-01T00:00:00Z', labels: ['x', 'y', 'z'] });
  await writeModelFolder(join(dir, 'bb'), { modelBytes: p.modelBytes, manifest: p.manifest });
  const r = await inspectModel(join(dir, 'bb'));
  assert.equal(r.kind, 'folder');
  assert.deepEqual(r.embedding, { name: 'embedding', size: 8 });
  assert.deepEqual(r.graph.outputs.map((o) => o.name), ['logits', 'embedding']);
  assert.deepEqual(r.labels, ['x', 'y', 'z']);
  assert.equal(r.model.sha256, sha256Hex(p.modelBytes));
  assert.equal(r.model.sizeBytes, p.modelBytes.length);
  assert.equal(r.preprocessing?.layout, 'NCHW');
  assert.deepEqual(r.problems, []);
  const table = formatReport(r);
  for (const want of [/embedding\s+embedding, 8 values/, /labels\s+3: x, y, z/, /output\s+logits float32 \[batch_size,3\] ← class scores \(logits\)/, /opset\s+ai\.onnx 13/]) assert.match(table, want);
}));

test('inspect names the test-time views a backbone averages over; the folder verifies against its graph', () => withTmp(async (dir) => {
  const f = tinyImagenetLikeOnnx({ classes: 3 });
  const p = await prepareBackbone(f.bytes, { name: 'bb', created: '2024-01-01T00:00:00Z', labels: ['x', 'y', 'z'], views: { scales: [32, 48], mirror: true } });
  await writeModelFolder(join(dir, 'bb'), { modelBytes: p.modelBytes, manifest: p.manifest });
  const r = await inspectModel(join(dir, 'bb'));
  assert.deepEqual(r.views, { scales: [32, 48], mirror: true });
  assert.deepEqual(r.problems, []);
  assert.match(formatReport(r), /views\s+outputs averaged in the graph over 32 \+ 48 px and the left-right mirror/);
  assert.match(formatReport(r), /input\s+input float32 \[batch_size,3,48,48\]/);
}));

test('inspect a bare .onnx file suggests the embedding tensor and detects the output kind', () => withTmp(async (dir) => {
  await writeFile(join(dir, 'q.onnx'), tinyImagenetLikeOnnx({ quantized: true }).bytes);
  const r = await inspectModel(join(dir, 'q.onnx'));
  assert.equal(r.kind, 'onnx');
  assert.deepEqual(r.embeddingCandidate, { tensor: 'pooled_quantized', size: 8, quantized: true });
  assert.equal(r.detectedOutputKind, 'logits');
  assert.equal(r.manifest, undefined);
  assert.ok(r.graph.parameterCount > 8 * 27);
}));

test('inspect lists the problems of a lying folder instead of hiding them', () => withTmp(async (dir) => {
  const folder = await writeTinyModelFolder(join(dir, 't'), { labels: 3 });
  const m = JSON.parse(await readFile(join(folder.dir, 'manifest.json'), 'utf8'));
  m.labels = ['only', 'two'];
  await writeFile(join(folder.dir, 'manifest.json'), JSON.stringify(m));
  const r = await inspectModel(folder.dir);
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!, /labels: 2 labels but output "probs" has 3 classes/);
  assert.match(formatReport(r), /PROBLEM\s+labels:/);
  await writeFile(join(folder.dir, 'manifest.json'), '{');
  assert.match((await inspectModel(folder.dir)).problems[0]!, /not valid JSON/);
  await assert.rejects(inspectModel(join(dir, 'missing')), (e: unknown) => e instanceof ModelError && e.code === 'INSPECT_NOT_FOUND');
}));
