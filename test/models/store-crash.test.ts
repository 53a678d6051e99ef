import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelStore } from '../../src/models/store.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { silentLogger } from '../../src/logger.js';
import { tinyClassifierOnnx, tinyManifest } from '../fakes/onnx-fixtures.js';

/**
 * kill -9 at every step of install (add + activate) and of rollback, and at arbitrary moments of a busy loop:
 * afterwards the store verifies and `active` is a complete model (the previous one unless the switch was done).
 */

const CHILD = fileURLToPath(new URL('./store-crash-child.js', import.meta.url));

/** Runs the child; kills it with SIGKILL when it prints `waitFor` (or after `afterMs` once READY). Resolves with its stdout. */
function runAndKill(args: string[], waitFor: string, afterMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const bound = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child never printed ${waitFor}: ${out} ${err}`)); }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(waitFor)) setTimeout(() => child.kill('SIGKILL'), afterMs);
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code, signal) => {
      clearTimeout(bound);
      if (signal === 'SIGKILL' || out.includes(waitFor)) resolve(out);
      else reject(new Error(`child exited ${code} before ${waitFor}: ${err}`));
    });
  });
}

async function storeWithV1(): Promise<{ root: string; store: ModelStore }> {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-crash-'));
  const store = new ModelStore({ logger: silentLogger() }, root);
  await store.add({ modelBytes: tinyClassifierOnnx({ seed: 1, inputSize: 64 }), manifest: { ...tinyManifest({ version: 'v1', inputSize: 64 }), created: '2024-01-01T00:00:00.000Z' } }, { status: 'installed' });
  await store.activate('v1');
  return { root, store };
}

async function assertValid(store: ModelStore, expectActive: string[]): Promise<void> {
  const report = await store.verify();
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  const active = await store.active();
  assert.ok(active && expectActive.includes(active), `active is ${active}, expected one of ${expectActive}`);
  assert.equal((await loadModelFolder(store.activeDir)).manifest.version, active);
}

const INSTALL_STEPS: [string, string[]][] = [
  ['add:before-write', ['v1']],
  ['add:written', ['v1']],
  ['activate:previous-temp', ['v1']],
  ['activate:between', ['v1']],
  ['activate:active-temp', ['v1']],
  ['activate:done', ['v2']],
];

for (const [step, expected] of INSTALL_STEPS) {
  test(`kill -9 during install at ${step}: the store verifies and serves ${expected.join('/')}`, async () => {
    const { root, store } = await storeWithV1();
    await runAndKill([root, 'install', step], `AT ${step}`);
    await assertValid(store, expected);
    if (expected[0] === 'v1') {
      // …and the interrupted install can simply be run again.
      await store.add({ modelBytes: tinyClassifierOnnx({ seed: 2, inputSize: 64 }), manifest: { ...tinyManifest({ version: 'v2', inputSize: 64 }), created: new Date(Date.UTC(2024, 0, 1, 0, 0, 2)).toISOString() } }, { status: 'installed' });
      await store.activate('v2');
      await assertValid(store, ['v2']);
      assert.equal(await store.previous(), 'v1');
    }
    await store.prune({ keep: 10 });
    assert.deepEqual((await store.verify()).leftovers, [], 'prune clears the left-overs');
    await rm(root, { recursive: true, force: true });
  });
}

for (const step of ['rollback:active-temp', 'rollback:between']) {
  test(`kill -9 during rollback at ${step}: the store verifies`, async () => {
    const { root, store } = await storeWithV1();
    await store.add({ modelBytes: tinyClassifierOnnx({ seed: 2, inputSize: 64 }), manifest: { ...tinyManifest({ version: 'v2', inputSize: 64 }), created: '2024-01-02T00:00:00.000Z' } }, { status: 'installed' });
    await store.activate('v2');
    await runAndKill([root, 'rollback', step], `AT ${step}`);
    await assertValid(store, step === 'rollback:active-temp' ? ['v2'] : ['v1']);
    await rm(root, { recursive: true, force: true });
  });
}

test('kill -9 at arbitrary moments of add/activate/rollback/prune churn: always a valid store', async () => {
  const { root, store } = await storeWithV1();
  for (const afterMs of [5, 40, 90, 160, 250, 400]) {
    await runAndKill([root, 'churn', '-'], 'READY', afterMs);
    const versions = await store.versions();
    await assertValid(store, versions);
  }
  await rm(root, { recursive: true, force: true });
});
