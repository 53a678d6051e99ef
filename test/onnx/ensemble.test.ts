import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { ensembleFolders } from '../../src/models/ensemble.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { averageModels } from '../../src/onnx/ensemble.js';
import { probeWithOnnxRuntime } from '../../src/onnx/probe.js';
import { encodeOnnx, parseOnnx } from '../../src/onnx/proto.js';
import { randomFloats, seededRandom, tinyClassifierOnnx, writeTinyModelFolder } from '../fakes/onnx-fixtures.js';
import { runOnnx } from './run-ort.js';

/** Ensembles baked into one graph (onnx/ensemble.ts, models/ensemble.ts), checked against running each member alone. */

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const meanOf = (arrays: Float32Array[]) => arrays[0]!.map((_, i) => arrays.reduce((s, a) => s + a[i]!, 0) / arrays.length);

test('an ensemble of three classifiers answers the mean of their scores, and differs from each of them', async () => {
  const members = [3, 5, 8].map((seed) => tinyClassifierOnnx({ layout: 'NHWC', inputSize: 12, seed }));
  const dims = [4, 12, 12, 3];
  const x = randomFloats(seededRandom(2), 4 * 12 * 12 * 3);
  const alone = await Promise.all(members.map(async (m) => (await runOnnx(m, { input: { data: x, dims } })).probs!.data));
  const merged = encodeOnnx(averageModels(members.map((m) => parseOnnx(m))));
  const got = (await runOnnx(merged, { input: { data: x, dims } })).probs!;
  assert.deepEqual(got.dims, [4, 3]);
  assert.ok(maxDiff(got.data, meanOf(alone)) < 1e-6);
  for (const a of alone) assert.ok(maxDiff(got.data, a) > 1e-3, 'the members must disagree for the test to mean anything');
});

test('averageModels refuses one model, members with another input or other outputs, and already multi-scale outputs', () => {
  const base = () => parseOnnx(tinyClassifierOnnx({ inputSize: 12 }));
  const code = (fn: () => unknown) => { try { fn(); } catch (err) { return err instanceof ModelError ? err.code : String(err); } return 'no error'; };
  assert.equal(code(() => averageModels([base()])), 'ENSEMBLE_TOO_FEW');
  assert.equal(code(() => averageModels([base(), parseOnnx(tinyClassifierOnnx({ inputSize: 16 }))])), 'ENSEMBLE_MISMATCH');
  assert.equal(code(() => averageModels([base(), parseOnnx(tinyClassifierOnnx({ inputSize: 12, layout: 'NHWC' }))])), 'ENSEMBLE_MISMATCH');
  assert.equal(code(() => averageModels([base(), parseOnnx(tinyClassifierOnnx({ inputSize: 12, labels: 4 }))])), 'ENSEMBLE_MISMATCH');
  const twice = averageModels([base(), base()]);
  assert.equal(code(() => averageModels([twice, base()])), 'ENSEMBLE_VIEWS');
});

test('ensembleFolders writes a loadable folder: mean over members and mirror, manifest says so, members that differ are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-ensemble-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const opts = { layout: 'NHWC' as const, inputSize: 12, labelNames: ['cat', 'dog', 'none'] };
  const members = await Promise.all([1, 2].map((seed) => writeTinyModelFolder(join(dir, `m${seed}`), { ...opts, seed, version: `1.${seed}` })));
  const out = await ensembleFolders(members, { out: join(dir, 'both'), created: '2026-01-01T00:00:00.000Z', mirror: true, command: 'edgecam model ensemble m1 m2' }, probeWithOnnxRuntime);
  const loaded = await loadModelFolder(join(dir, 'both'));
  assert.deepEqual(loaded.manifest.output.views, { members: 2, mirror: true });
  assert.equal(loaded.manifest.version, '1.1-ensemble2');
  assert.match(loaded.manifest.provenance.source ?? '', /^mean of tiny 1\.1 .*, tiny 1\.2 /);
  assert.deepEqual(loaded.manifest.labels, ['cat', 'dog', 'none']);
  assert.equal(out.manifest.sha256, loaded.manifest.sha256);

  const dims = [2, 12, 12, 3];
  const x = randomFloats(seededRandom(7), 2 * 12 * 12 * 3);
  const flipped = x.map((_, i) => { const [n, h, w, c] = [Math.floor(i / 432), Math.floor(i / 36) % 12, Math.floor(i / 3) % 12, i % 3]; return x[((n * 12 + h) * 12 + (11 - w)) * 3 + c]!; });
  const views = await Promise.all(members.flatMap((m) => [x, flipped].map(async (data) => (await runOnnx(m.modelBytes, { input: { data, dims } })).probs!.data)));
  const got = (await runOnnx(loaded.modelBytes, { input: { data: x, dims } })).probs!.data;
  assert.ok(maxDiff(got, meanOf(views)) < 1e-6);

  const relabelled = await writeTinyModelFolder(join(dir, 'other'), { ...opts, labelNames: ['cat', 'dog', 'fox'], seed: 3 });
  await assert.rejects(ensembleFolders([members[0]!, relabelled], { out: join(dir, 'bad'), created: '2026-01-01T00:00:00.000Z' }, probeWithOnnxRuntime),
    (err: ModelError) => err.code === 'ENSEMBLE_MISMATCH' && /differs from .* in labels;/.test(err.message));
  await assert.rejects(ensembleFolders([members[0]!, loaded], { out: join(dir, 'bad'), created: '2026-01-01T00:00:00.000Z' }, probeWithOnnxRuntime),
    (err: ModelError) => err.code === 'ENSEMBLE_VIEWS');
});
