import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { manifestSchema } from '../../src/models/manifest.js';
import type { Classifier } from '../../src/inference/types.js';
import { ModelReloader } from '../../src/daemon/model-reloader.js';
import { systemClock } from '../../src/types.js';
import { waitUntil } from './fixtures.js';

/**
 * The reloader with real folders and real fs.watch; the classifier loader reads the folder's manifest.json
 * (ONNX Runtime itself is exercised by the daemon e2e test), and refuses a folder whose manifest says "broken".
 */
async function modelFolder(dir: string, version: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ version }));
}

function setup(dir: string) {
  const disposed: string[] = [];
  const swaps: string[] = [];
  const load = async (d: string): Promise<Classifier> => {
    const { version } = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(join(d, 'manifest.json'), 'utf8'))) as { version: string };
    if (version === 'broken') throw new ModelError('MODEL_MANIFEST_INVALID', `${d}: broken`);
    const manifest = manifestSchema.parse({
      name: 'm', version, created: '2024-01-01T00:00:00Z', labels: ['a', 'b'],
      input: { name: 'input', shape: [1, 3, 4, 4], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
      preprocess: { resize: 'squash', size: [4, 4], scale: 1 }, output: { name: 'o', kind: 'probabilities' }, sha256: '0'.repeat(64),
    });
    return { manifest, provider: 'cpu', classify: async () => { throw new Error('unused'); }, dispose: async () => { disposed.push(version); } };
  };
  let inService: Classifier | undefined;
  const reloader = new ModelReloader({
    logger: silentLogger(), clock: systemClock, loadClassifier: load,
    swap: async (next) => { const prev = inService!; inService = next; swaps.push(next.manifest.version); return prev; },
  }, { dir, watch: true, debounceMs: 50 });
  reloader.on('swapped', (c) => { inService ??= c; });
  return { reloader, disposed, swaps };
}

test('re-pointing an `active` symlink reloads; a broken model keeps the old one; unchanged folders are not reloaded', async () => {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-reload-'));
  const active = join(root, 'active');
  await modelFolder(join(root, 'v1'), '1');
  await modelFolder(join(root, 'v2'), '2');
  await modelFolder(join(root, 'bad'), 'broken');
  await symlink(join(root, 'v1'), active);
  const { reloader, disposed, swaps } = setup(active);
  try {
    await reloader.start();
    assert.equal(reloader.loaded?.version, '1');
    assert.equal(reloader.loaded?.dir, join(root, 'v1'), 'symlink resolved');

    // ln -sfn v2 active, done atomically as package managers do: new link, rename over the old one.
    await symlink(join(root, 'v2'), join(root, 'active.new'));
    await rename(join(root, 'active.new'), active);
    await waitUntil(() => reloader.loaded?.version === '2', 10_000, 'swap to v2');
    assert.deepEqual(swaps, ['2']);
    assert.deepEqual(disposed, ['1'], 'old model disposed after the swap');

    // A broken model: refused, v2 keeps serving.
    await assert.rejects(reloader.reload('test', { dir: join(root, 'bad') }), /broken/);
    assert.equal(reloader.loaded?.version, '2');
    assert.equal(reloader.current?.manifest.version, '2');

    // Same folder, same manifest: nothing to do.
    await reloader.reload('test', { onlyIfChanged: true });
    assert.deepEqual(swaps, ['2']);

    // The manifest rewritten in place (a retrain into the same folder): the file watch catches it.
    await modelFolder(join(root, 'v2'), '2b');
    await waitUntil(() => reloader.loaded?.version === '2b', 10_000, 'reload of 2b');
    assert.deepEqual(swaps, ['2', '2b']);
  } finally {
    await reloader.stop();
    await reloader.stop();
    await rm(root, { recursive: true, force: true });
  }
  assert.deepEqual(disposed, ['1', '2', '2b']);
  await assert.rejects(reloader.reload('after stop'), (e: unknown) => e instanceof ModelError && e.code === 'MODEL_NOT_RUNNING');
});
