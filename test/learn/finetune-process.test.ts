import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { rm } from 'node:fs/promises';
import { finetuneAndActivate } from '../../src/learn/finetune-process.js';
import { finetuneOptions } from '../../src/learn/finetune-options.js';
import type { FinetuneProgress } from '../../src/learn/finetune.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { silentLogger } from '../../src/logger.js';
import { transferFixture } from './finetune-fixtures.js';

test('fine-tune runs in a child process at nice 19, reports progress, then activates and hands over the new model', async () => {
  const f = await transferFixture({ labels: ['red', 'blue'] });
  const niceness: number[] = [];
  const setPriority = (pid: number, p: number): void => { os.setPriority(pid, p); niceness.push(os.getPriority(pid)); };
  const progress: FinetuneProgress[] = [];
  const swapped: string[] = [];
  const out = await finetuneAndActivate({ logger: silentLogger(), setPriority }, finetuneOptions({ data: f.data, models: f.models, epochs: 40, lr: 0.05 }), {
    logLevel: 'silent', onProgress: (p) => progress.push(p),
    onActivated: async (dir) => { swapped.push((await loadModelFolder(dir)).manifest.version); },
  });
  assert.deepEqual(niceness, [19]);
  assert.equal(out.accepted, true, out.reason);
  assert.equal(out.activated, true);
  assert.equal(await f.store.active(), out.version);
  assert.equal(await f.store.previous(), 'v1');
  assert.deepEqual(swapped, [out.version]);
  const epochs = progress.filter((p) => p.state === 'training');
  assert.equal(epochs.length, 40);
  assert.equal(epochs.at(-1)!.epoch, 40);
  assert.equal(progress.at(-1)!.state, 'activated');
  assert.ok(out.secondsToActive! > 0);
  assert.equal((await f.store.verify()).ok, true);
  await rm(f.root, { recursive: true, force: true });
});

test('a swap the daemon refuses rolls the store back; a failing child reports its error and activates nothing', async () => {
  const f = await transferFixture({ labels: ['red', 'blue'] });
  await assert.rejects(finetuneAndActivate({ logger: silentLogger() }, finetuneOptions({ data: f.data, models: f.models, epochs: 2, force: true }), {
    logLevel: 'silent', onActivated: async () => { throw new Error('model failed to load'); },
  }), { code: 'FINETUNE_SWAP_FAILED' });
  assert.equal(await f.store.active(), 'v1');
  await assert.rejects(finetuneAndActivate({ logger: silentLogger() }, finetuneOptions({ data: `${f.root}/nothing-here`, models: f.models, epochs: 2 }), { logLevel: 'silent' }),
    (err: Error & { code?: string }) => err.code === 'FINETUNE_NO_LABELS' && /label set/.test(err.message));
  assert.equal(await f.store.active(), 'v1');
  await rm(f.root, { recursive: true, force: true });
});

test('cancelling kills the child: nothing activated, the store still verifies', async () => {
  const f = await transferFixture();
  let cancelled = false;
  await assert.rejects(finetuneAndActivate({ logger: silentLogger() }, finetuneOptions({ data: f.data, models: f.models, epochs: 500 }), {
    logLevel: 'silent',
    onProgress: (p) => { if (p.state === 'training' && !cancelled) { cancelled = true; run?.cancel(); } },
    onStart: (r) => { run = r; },
  }), { code: 'FINETUNE_CANCELLED' });
  assert.equal(await f.store.active(), 'v1');
  assert.equal((await f.store.verify()).ok, true);
  await rm(f.root, { recursive: true, force: true });
});
let run: { cancel(): void } | undefined;
