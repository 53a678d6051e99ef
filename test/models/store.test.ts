import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelStore } from '../../src/models/store.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { silentLogger } from '../../src/logger.js';
import { tinyClassifierOnnx, tinyManifest } from '../fakes/onnx-fixtures.js';

async function tempStore(): Promise<{ store: ModelStore; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-store-'));
  return { store: new ModelStore({ logger: silentLogger() }, root), root };
}

function version(v: string, seed = 1, created = `2024-01-0${v.length}T00:00:0${v.slice(-1)}.000Z`) {
  return { modelBytes: tinyClassifierOnnx({ seed }), manifest: { ...tinyManifest({ version: v }), created } };
}

test('add, activate, rollback: pointers are relative links and the active folder loads as a model', async () => {
  const { store, root } = await tempStore();
  await store.add(version('v1', 1), { status: 'installed' });
  await store.add(version('v2', 2), { status: 'accepted', gate: { candidateAccuracy: 0.9 } });
  assert.equal(await store.active(), undefined);
  assert.deepEqual(await store.activate('v1'), { active: 'v1' });
  assert.deepEqual(await store.activate('v2'), { active: 'v2', previous: 'v1' });
  assert.equal(await readlink(join(root, 'active')), 'versions/v2');
  assert.equal((await loadModelFolder(store.activeDir)).manifest.version, 'v2');
  assert.deepEqual(await store.rollback(), { active: 'v1', previous: 'v2' });
  assert.equal((await loadModelFolder(store.activeDir)).manifest.version, 'v1');
  assert.deepEqual(await store.rollback(), { active: 'v2', previous: 'v1' }, 'rollback twice toggles back');
  const list = await store.list();
  assert.deepEqual(list.map((e) => [e.version, e.active, e.previous, e.status]), [['v1', false, true, 'installed'], ['v2', true, false, 'accepted']]);
  assert.deepEqual(list[1]!.gate, { candidateAccuracy: 0.9 });
  assert.equal((await store.verify()).ok, true);
  await rm(root, { recursive: true, force: true });
});

test('activating an unknown or broken version changes nothing', async () => {
  const { store, root } = await tempStore();
  await store.add(version('v1'), { status: 'installed' });
  await store.activate('v1');
  await assert.rejects(store.activate('nope'), { code: 'STORE_NO_VERSION' });
  await assert.rejects(store.activate('../etc'), { code: 'STORE_BAD_VERSION' });
  // A version folder whose model file was damaged after it was stored.
  await store.add(version('v2', 2), { status: 'installed' });
  await writeFile(join(root, 'versions/v2/model.onnx'), 'garbage');
  await assert.rejects(store.activate('v2'), /not an ONNX model/);
  assert.equal(await store.active(), 'v1');
  const report = await store.verify();
  assert.equal(report.ok, false, 'a broken stored version is a verify problem');
  assert.match(report.problems.join('\n'), /version v2/);
  await rm(root, { recursive: true, force: true });
});

test('rollback without a previous version says what to do', async () => {
  const { store, root } = await tempStore();
  await store.add(version('v1'), { status: 'installed' });
  await store.activate('v1');
  await assert.rejects(store.rollback(), (err: Error & { code?: string }) => err.code === 'STORE_NO_PREVIOUS' && /model activate/.test(err.message));
  await rm(root, { recursive: true, force: true });
});

test('the same version name with other bytes is refused; the same bytes again are a no-op', async () => {
  const { store, root } = await tempStore();
  await store.add(version('v1', 1), { status: 'installed' });
  await store.add(version('v1', 1), { status: 'installed' });
  await assert.rejects(store.add(version('v1', 7), { status: 'installed' }), { code: 'STORE_VERSION_EXISTS' });
  await rm(root, { recursive: true, force: true });
});

test('verify reports dangling pointers and left-overs; prune keeps active, previous and the newest N', async () => {
  const { store, root } = await tempStore();
  for (const [i, v] of ['a1', 'a2', 'a3', 'a4', 'a5'].entries()) await store.add({ ...version(v, i + 1), manifest: { ...tinyManifest({ version: v }), created: `2024-01-0${i + 1}T00:00:00.000Z` } }, { status: 'installed' });
  await store.activate('a1');
  await store.activate('a2');
  await mkdir(join(root, 'versions/.a9.tmp-1-abcd'));
  await symlink('versions/a3', join(root, '.active.tmp-1-beef'));
  let report = await store.verify();
  assert.equal(report.ok, true);
  assert.deepEqual(report.leftovers.sort(), ['.active.tmp-1-beef', 'versions/.a9.tmp-1-abcd']);
  const dry = await store.prune({ keep: 1, dryRun: true });
  assert.deepEqual(dry.removed, ['a3', 'a4']);
  assert.deepEqual(await store.versions(), ['a1', 'a2', 'a3', 'a4', 'a5'], 'dry run removes nothing');
  const r = await store.prune({ keep: 1 });
  assert.deepEqual(r.removed, ['a3', 'a4']);
  assert.deepEqual(await store.versions(), ['a1', 'a2', 'a5']);
  assert.deepEqual((await readdir(root)).sort(), ['active', 'previous', 'versions']);
  await rm(join(root, 'versions/a1'), { recursive: true });
  report = await store.verify();
  assert.equal(report.ok, false);
  assert.match(report.problems.join('\n'), /previous points to version a1, which is missing/);
  await rm(root, { recursive: true, force: true });
});

test('status can be changed later (rejected candidates keep their metrics)', async () => {
  const { store, root } = await tempStore();
  await store.add(version('c1'), { status: 'accepted' });
  await store.setStatus('c1', { status: 'rejected', reason: 'gate failed', gate: { candidateAccuracy: 0.5, currentAccuracy: 0.8 } });
  const [e] = await store.list();
  assert.equal(e!.status, 'rejected');
  assert.deepEqual(e!.gate, { candidateAccuracy: 0.5, currentAccuracy: 0.8 });
  assert.match(await readFile(join(root, 'versions/c1/store-status.json'), 'utf8'), /"at"/);
  await rm(root, { recursive: true, force: true });
});
