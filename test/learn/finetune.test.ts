import { test } from 'node:test';
import { parseOnnx } from '../../src/onnx/proto.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { listFrames } from '../../src/collect/frames.js';
import { finetune, gate } from '../../src/learn/finetune.js';
import { classHoldout, finetuneSplit, isHeldOut } from '../../src/learn/finetune-data.js';
import { defaultCacheDir, finetuneOptions } from '../../src/learn/finetune-options.js';
import { MIRROR_VARIANT } from '../../src/learn/embeddings.js';
import { fitModel } from '../../src/learn/train.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { preprocessImage } from '../../src/preprocess/image.js';
import { silentLogger } from '../../src/logger.js';
import { transferFixture } from './finetune-fixtures.js';

await tf.setBackend('cpu');

const deps = { logger: silentLogger(), preprocess: preprocessImage };

test('holdout: fixed per frame id, about the asked share, and labelling more frames never moves an old one', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `20240101-000000-000-${String(i).padStart(6, '0')}`);
  const held = ids.filter((id) => isHeldOut(id, 0.2));
  assert.ok(held.length > 330 && held.length < 470, `${held.length} of 2000 held out`);
  assert.deepEqual(ids.slice(0, 500).filter((id) => isHeldOut(id, 0.2)), held.filter((id) => ids.indexOf(id) < 500));
});

test('split: current classes first, new classes after; a class with no training frames is refused', async () => {
  const f = await transferFixture({ labels: ['red', 'blue'] });
  const split = await finetuneSplit(f.data, ['red', 'blue'], 0.2);
  assert.deepEqual(split.labels, ['red', 'blue', 'green']);
  assert.deepEqual(split.newClasses, ['green']);
  const frames = await listFrames(f.data);
  const heldPaths = new Set(split.holdout.map((h) => h.path));
  for (const c of ['red', 'blue', 'green']) {
    const ofClass = frames.filter((fr) => fr.label === c);
    const held = classHoldout(ofClass.map((fr) => fr.id), 0.2);
    assert.deepEqual(ofClass.filter((fr) => heldPaths.has(fr.image)).map((fr) => fr.id).sort(), [...held].sort(), c);
    assert.ok(held.size >= 1 && held.size < ofClass.length, `${c}: ${held.size} of ${ofClass.length} held back`);
  }
  assert.equal(split.train.length + split.holdout.length, 45);
  await assert.rejects(finetuneSplit(f.data, ['red', 'blue', 'purple'], 0.2), (err: Error & { code?: string }) => err.code === 'FINETUNE_CLASS_WITHOUT_FRAMES' && /"purple"/.test(err.message));
  await rm(f.root, { recursive: true, force: true });
});

test('fine-tune beats the current model on held-back frames: stored as accepted with parent, dataset summary and metrics', async () => {
  const f = await transferFixture({ labels: ['red', 'blue'] });
  const progress: string[] = [];
  const r = await finetune({ ...deps, onProgress: (p) => progress.push(p.state) }, finetuneOptions({ data: f.data, models: f.models, epochs: 60, lr: 0.05, version: 'v2' }));
  assert.equal(r.accepted, true, r.reason);
  assert.deepEqual(r.labels, ['red', 'blue', 'green']);
  assert.ok(r.candidateAccuracy! > r.currentAccuracy!, `${r.candidateAccuracy} vs ${r.currentAccuracy}`);
  const split = await finetuneSplit(f.data, ['red', 'blue'], 0.2);
  const redShare = split.holdout.filter((h) => h.label === 0).length / split.holdout.length;
  assert.equal(r.currentAccuracy, redShare, 'the all-zero head says red for everything');
  for (const s of ['starting', 'embedding', 'training', 'evaluating', 'storing']) assert.ok(progress.includes(s), s);
  const stored = await loadModelFolder(r.dir);
  assert.equal(stored.manifest.provenance.parentVersion, 'v1');
  assert.deepEqual(stored.manifest.provenance.datasetSummary, { red: 15, blue: 15, green: 15 });
  assert.equal((stored.manifest.metrics as { holdoutAccuracy: number }).holdoutAccuracy, r.candidateAccuracy);
  assert.equal(stored.manifest.output.embedding?.size, 8, 'the new model can be fine-tuned again');
  const status = JSON.parse(await readFile(join(r.dir, 'store-status.json'), 'utf8')) as { status: string };
  assert.equal(status.status, 'accepted');
  assert.equal(await f.store.active(), 'v1', 'finetune() stores; activation is the caller\'s');
  // Second run on top of v2: every embedding comes from the cache, and v2 is scored by its head.json.
  await f.store.activate('v2');
  const again = await finetune(deps, finetuneOptions({ data: f.data, models: f.models, epochs: 5, version: 'v3' }));
  assert.equal(again.embeddings.computed, 0);
  assert.equal(again.embeddings.cached, r.embeddings.cached + r.embeddings.computed);
  assert.equal(again.currentAccuracy, r.candidateAccuracy, 'v2 as the current model scores what it scored as the candidate');
  assert.equal(again.parentVersion, 'v2');
  await rm(f.root, { recursive: true, force: true });
});

test('a candidate that does not reach current + margin is kept as rejected with its metrics; --force overrides', async () => {
  const f = await transferFixture();
  const r = await finetune(deps, finetuneOptions({ data: f.data, models: f.models, epochs: 3, margin: 0.99, version: 'c1' }));
  assert.equal(r.accepted, false);
  assert.match(r.reason, /gate failed/);
  const [, entry] = await f.store.list();
  assert.equal(entry!.version, 'c1');
  assert.equal(entry!.status, 'rejected');
  assert.equal((entry!.gate as { candidateAccuracy: number }).candidateAccuracy, r.candidateAccuracy);
  const forced = await finetune(deps, finetuneOptions({ data: f.data, models: f.models, epochs: 3, margin: 0.99, force: true, version: 'c2' }));
  assert.equal(forced.accepted, true);
  assert.equal(forced.forced, true);
  assert.match(forced.reason, /forced/);
  await rm(f.root, { recursive: true, force: true });
});

test('gate arithmetic', () => {
  assert.equal(gate(0.9, 0.9, { margin: 0, force: false }).accepted, true);
  assert.equal(gate(0.89, 0.9, { margin: 0, force: false }).accepted, false);
  assert.equal(gate(0.89, 0.9, { margin: -0.02, force: false }).accepted, true);
  assert.equal(gate(null, 0.9, { margin: 0, force: false }).accepted, false);
  assert.equal(gate(null, null, { margin: 0, force: true }).accepted, true);
});

/** Image sha256s that have a cached embedding of `variant` ('' = plain), from the cache folder's file names. */
async function cachedShas(cacheDir: string, variant: string): Promise<Set<string>> {
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else {
        const m = /^([0-9a-f]{64})(?:-(.+))?\.f32$/.exec(e.name);
        if (m && (m[2] ?? '') === variant) found.add(m[1]!);
      }
    }
  };
  await walk(cacheDir);
  return found;
}

const shaOf = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

test('mirrors: every training frame\'s mirror is embedded and cached, no held-back frame\'s; weight decay reaches the training loop', async () => {
  const f = await transferFixture({ labels: ['red', 'blue'] });
  const calls: { rows: number; weightDecay: number | undefined }[] = [];
  const fit: typeof fitModel = (model, train, val, o, reporter) => {
    calls.push({ rows: train.y.length, weightDecay: o.weightDecay });
    return fitModel(model, train, val, o, reporter);
  };
  const split = await finetuneSplit(f.data, ['red', 'blue'], 0.2);
  assert.ok(split.holdout.length > 0 && split.train.length > 0, 'the fixture has frames on both sides');
  const r = await finetune({ ...deps, fit }, finetuneOptions({ data: f.data, models: f.models, epochs: 5, version: 'm1' }));
  assert.deepEqual(calls, [{ rows: 2 * split.train.length, weightDecay: 0.1 }], 'defaults: the mirrors double the training rows; weight decay 0.1');
  assert.equal(r.embeddings.mirrored, split.train.length);
  assert.equal(r.embeddings.computed, 2 * split.train.length + split.holdout.length);
  const mirrored = await cachedShas(defaultCacheDir(f.data), MIRROR_VARIANT);
  const trainShas = new Set(await Promise.all(split.train.map((t) => shaOf(t.path))));
  const heldShas = new Set(await Promise.all(split.holdout.map((h) => shaOf(h.path))));
  assert.deepEqual([...mirrored].sort(), [...trainShas].sort(), 'a mirror for each training frame');
  assert.deepEqual([...heldShas].filter((s) => mirrored.has(s)), [], 'never a held-back frame\'s');
  assert.equal((await cachedShas(defaultCacheDir(f.data), '')).size, trainShas.size + heldShas.size, 'plain embeddings of both sides');
  // Re-fine-tuning reads the mirrors back; switched off, they are not used and weight decay is what was asked.
  const again = await finetune({ ...deps, fit }, finetuneOptions({ data: f.data, models: f.models, epochs: 5, version: 'm2' }));
  assert.equal(again.embeddings.computed, 0);
  const plain = await finetune({ ...deps, fit }, finetuneOptions({ data: f.data, models: f.models, epochs: 5, version: 'm3', mirror: false, weightDecay: 0.02 }));
  assert.deepEqual(calls.at(-1), { rows: split.train.length, weightDecay: 0.02 });
  assert.equal(plain.embeddings.mirrored, 0);
  await rm(f.root, { recursive: true, force: true });
});

test('a backbone with test-time views: no mirrored training frames, and the stored candidate keeps the views in its graph and manifest', async () => {
  const views = { scales: [32, 40] };
  const f = await transferFixture({ labels: ['red', 'blue'], views });
  const rows: number[] = [];
  const fit: typeof fitModel = (model, train, val, o, reporter) => { rows.push(train.y.length); return fitModel(model, train, val, o, reporter); };
  const split = await finetuneSplit(f.data, ['red', 'blue'], 0.2);
  const r = await finetune({ ...deps, fit }, finetuneOptions({ data: f.data, models: f.models, epochs: 5, version: 'v2', force: true }));
  assert.deepEqual(rows, [split.train.length], 'mirror on by default, but not used with views');
  assert.equal(r.embeddings.mirrored, 0);
  const stored = await f.store.load('v2');
  assert.deepEqual(stored.manifest.output.views, views);
  assert.deepEqual(stored.manifest.preprocess.size, [40, 40]);
  // The gate's parity check ran the composed graph; the stored graph still resizes inside for the 32 px view.
  assert.ok(parseOnnx(stored.modelBytes).graph!.node!.some((n) => n.opType === 'Resize'));
  await rm(f.root, { recursive: true, force: true });
});

test('options: weight decay must be ≥ 0', () => {
  assert.throws(() => finetuneOptions({ data: 'd', models: 'm', weightDecay: -0.1 }), { code: 'TRAIN_BAD_OPTION' });
  assert.equal(finetuneOptions({ data: 'd', models: 'm' }).weightDecay, 0.1);
  assert.equal(finetuneOptions({ data: 'd', models: 'm' }).mirror, true);
});
