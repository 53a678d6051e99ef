import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config/schema.js';
import type { Daemon } from '../../src/daemon.js';
import { installModel, type InstallOptions } from '../../src/models/install.js';
import { ModelStore } from '../../src/models/store.js';
import { generateSigningKeys, signBytes } from '../../src/models/verify.js';
import { silentLogger } from '../../src/logger.js';
import { createDaemon } from '../../src/main.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { tinyClassifierOnnx, tinyManifest } from '../fakes/onnx-fixtures.js';
import { solidJpeg, waitUntil, writeImages } from '../daemon/fixtures.js';
import { goodUpdate, startUpdateServer, throwsAtRunTime, updateArchive, type UpdateServer } from './install-fixtures.js';

/**
 * Issue 5 items 6-7: updates served by a local HTTP server to a store that a real daemon serves from, broken in
 * every listed way. After each fault the store verifies and the daemon still serves the version it served before.
 */

let broker: MosquittoBroker;
let server: UpdateServer;
let root: string;
let models: string;
let store: ModelStore;
let daemon: Daemon;
let healthUrl: string;
const logger = silentLogger();

before(async () => {
  broker = await startMosquitto();
  server = await startUpdateServer();
  root = await mkdtemp(join(tmpdir(), 'edgecam-install-'));
  models = join(root, 'models');
  store = new ModelStore({ logger }, models);
  await store.add({ modelBytes: tinyClassifierOnnx({ seed: 1 }), manifest: { ...tinyManifest({ version: 'v1' }), created: '2024-01-01T00:00:00.000Z' } }, { status: 'installed' });
  await store.activate('v1');
  await writeImages(join(root, 'camera'), { 'a.jpg': await solidJpeg(200, 30, 30), 'b.jpg': await solidJpeg(30, 30, 200) });
  const config = configSchema.parse({
    camera: { source: `folder:${join(root, 'camera')}`, fps: 5 },
    model: { dir: join(models, 'active'), providers: ['cpu'], watch: true },
    mqtt: { url: broker.url, baseTopic: 'inst', statsInterval: 60 },
    http: { port: 0 },
    log: { level: 'silent', decisions: false },
  });
  daemon = await createDaemon(config, logger);
  await daemon.start();
  healthUrl = `http://127.0.0.1:${daemon.httpPort}/healthz`;
});

after(async () => {
  await daemon?.stop();
  await server?.close();
  await broker?.stop();
  await rm(root, { recursive: true, force: true });
});

const opts = (source: string, over: Partial<InstallOptions> = {}): InstallOptions => ({ source, models, stallTimeoutMs: 2000, watchSeconds: 0, activate: true, ...over });

/** After a refused update: the store verifies, `active` is unchanged and the daemon serves that version. */
async function assertServing(version: string, afterKill = false): Promise<void> {
  const report = await store.verify();
  assert.deepEqual(report.problems, []);
  assert.equal(await store.active(), version);
  await waitUntil(() => daemon.snapshot().model?.version === version, 10_000, `daemon serving ${version}`);
  if (!afterKill) assert.deepEqual((await readdir(models)).filter((n) => n.startsWith('.install')), [], 'no staging folder left');
  else assert.ok(report.leftovers.every((l) => l.includes('.tmp-')), 'a killed install leaves only temporaries, which verify lists');
}

test('truncated download: refused with a resume hint; the next attempt resumes with Range and installs', async () => {
  const bytes = goodUpdate('v2');
  server.serve('/v2.tar.gz', bytes, 'truncate');
  await assert.rejects(installModel({ logger }, opts(`${server.url}/v2.tar.gz`)), (err: Error & { code?: string }) => /UPDATE_DOWNLOAD_(TRUNCATED|FAILED)/.test(err.code ?? '') && /resume/.test(err.message));
  await assertServing('v1');
  server.serve('/v2.tar.gz', bytes, 'ok');
  const from = server.ranges.length;
  const r = await installModel({ logger }, opts(`${server.url}/v2.tar.gz`, { healthUrl, watchSeconds: 4 }));
  assert.match(server.ranges[from] ?? '', /^bytes=\d+-$/, 'the second request asked for the rest');
  assert.ok(r.download!.resumedFrom > 0 && r.download!.bytes === bytes.length);
  assert.equal(r.watched, 'healthy');
  assert.equal(r.previous, 'v1');
  await assertServing('v2');
});

test('stalled download: aborted after the stall timeout, nothing installed', async () => {
  server.serve('/stall.tar.gz', goodUpdate('v9', 9), 'stall');
  await assert.rejects(installModel({ logger }, opts(`${server.url}/stall.tar.gz`, { stallTimeoutMs: 300 })), { code: 'UPDATE_DOWNLOAD_TIMEOUT' });
  server.serve('/missing', new Uint8Array(0));
  await assert.rejects(installModel({ logger }, opts(`${server.url}/nothing-here`)), { code: 'UPDATE_DOWNLOAD_FAILED' });
  await assertServing('v2');
});

test('wrong sha256 is refused', async () => {
  server.serve('/v3.tar.gz', goodUpdate('v3', 3));
  await assert.rejects(installModel({ logger }, opts(`${server.url}/v3.tar.gz`, { sha256: 'a'.repeat(64) })), { code: 'UPDATE_SHA256_MISMATCH' });
  await assert.rejects(installModel({ logger }, opts(`${server.url}/v3.tar.gz`, { sha256: 'not-a-hash' })), { code: 'UPDATE_BAD_SHA256' });
  await assertServing('v2');
  assert.equal(await store.has('v3'), false);
});

test('signatures: another key, a tampered file and a missing signature are refused; a good one installs', async () => {
  const release = generateSigningKeys();
  const other = generateSigningKeys();
  const bytes = goodUpdate('v4', 4);
  const pub = join(root, 'release.pub');
  await writeFile(pub, release.publicKeyPem);
  const file = join(root, 'v4.tar.gz');
  await writeFile(file, bytes);
  const wrongKeySig = join(root, 'wrong.sig');
  await writeFile(wrongKeySig, signBytes(bytes, other.privateKeyPem));
  await assert.rejects(installModel({ logger }, opts(file, { publicKey: pub, signature: wrongKeySig })), { code: 'UPDATE_BAD_SIGNATURE' });
  const goodSig = signBytes(bytes, release.privateKeyPem);
  const tampered = Uint8Array.from(bytes);
  tampered[100] = tampered[100]! ^ 1;
  await writeFile(join(root, 'tampered.tar.gz'), tampered);
  await assert.rejects(installModel({ logger }, opts(join(root, 'tampered.tar.gz'), { publicKey: pub, signature: goodSig })), { code: 'UPDATE_BAD_SIGNATURE' });
  await assert.rejects(installModel({ logger }, opts(file, { publicKey: pub })), { code: 'UPDATE_SIGNATURE_MISSING' });
  await assertServing('v2');
  const r = await installModel({ logger }, opts(file, { publicKey: pub, signature: goodSig, activate: false }));
  assert.deepEqual([r.version, r.activated], ['v4', false]);
  await assertServing('v2');
});

test('manifest/graph mismatch, wrong input size and label count mismatch are refused with the field named', async () => {
  const graph = tinyClassifierOnnx({ seed: 5 });
  const cases: [string, Uint8Array, RegExp][] = [
    ['name', updateArchive(graph, { ...tinyManifest({ version: 'm1' }), input: { ...tinyManifest().input, name: 'pixels' } }), /input\.name/],
    ['size', updateArchive(graph, tinyManifest({ version: 'm2', manifest: { input: { ...tinyManifest().input, shape: [-1, 3, 64, 64] }, preprocess: { resize: 'squash', size: [64, 64], scale: 1 / 255 } } })), /input\.shape\[2\]: manifest says 64 but the graph has 32/],
    ['labels', updateArchive(graph, tinyManifest({ version: 'm3', labelNames: ['a', 'b', 'c', 'd'] })), /4 labels but output "probs" has 3 classes/],
    ['checksum', updateArchive(graph, { ...tinyManifest({ version: 'm4' }), sha256: 'b'.repeat(64) }), /sha256: manifest says/],
  ];
  for (const [what, archive, message] of cases) {
    const file = join(root, `${what}.tar.gz`);
    await writeFile(file, archive);
    await assert.rejects(installModel({ logger }, opts(file)), (err: Error & { code?: string }) => err.code === 'MODEL_MANIFEST_MISMATCH' && message.test(err.message), what);
  }
  await writeFile(join(root, 'garbage.tar.gz'), goodUpdate('g1').subarray(0, 200));
  await assert.rejects(installModel({ logger }, opts(join(root, 'garbage.tar.gz'))), { code: 'UPDATE_BAD_ARCHIVE' });
  await assertServing('v2');
});

test('a model that throws at run time fails its smoke test and is not installed', async () => {
  const file = join(root, 'throws.tar.gz');
  await writeFile(file, throwsAtRunTime('t1'));
  await assert.rejects(installModel({ logger }, opts(file)), { code: 'UPDATE_SMOKE_FAILED' });
  assert.equal(await store.has('t1'), false);
  await assertServing('v2');
});

test('a daemon that turns unhealthy after activation makes the installer roll back', async () => {
  let calls = 0;
  const sick = createServer((_req, res) => {
    calls++;
    const healthy = calls === 1; // the probe before activation
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ healthy, reasons: healthy ? [] : ['camera offline'], model: { version: 'v2' } }));
  });
  await new Promise<void>((r) => sick.listen(0, '127.0.0.1', r));
  const file = join(root, 'v5.tar.gz');
  await writeFile(file, goodUpdate('v5', 5));
  try {
    await assert.rejects(installModel({ logger }, opts(file, { healthUrl: `http://127.0.0.1:${(sick.address() as AddressInfo).port}/healthz`, watchSeconds: 1 })),
      (err: Error & { code?: string }) => err.code === 'UPDATE_ROLLED_BACK' && /unhealthy \(HTTP 503\)/.test(err.message) && /rolled back to v2/.test(err.message));
  } finally {
    sick.close();
  }
  await assertServing('v2');
  assert.equal((await store.list()).find((e) => e.version === 'v5')?.status, 'installed', 'the update stays in the store for inspection');
});

const CHILD = fileURLToPath(new URL('./install-crash-child.js', import.meta.url));
function killAt(source: string, step: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, models, source, step], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errText = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes(`AT ${step}`)) child.kill('SIGKILL'); });
    child.stderr.on('data', (d: Buffer) => { errText += d.toString(); });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child did not reach ${step}: ${out} ${errText}`))));
  });
}

test('kill -9 at every step of install and activation: the store verifies and the daemon serves the previous model', async () => {
  const steps = ['install:downloaded', 'install:extracted', 'install:verified', 'add:before-write', 'add:written', 'activate:previous-temp', 'activate:between', 'activate:active-temp'];
  for (const [i, step] of steps.entries()) {
    const file = join(root, `k${i}.tar.gz`);
    await writeFile(file, goodUpdate(`k${i}`, 20 + i));
    await killAt(file, step);
    await assertServing('v2', true);
  }
  await store.prune({ keep: 100 });
  assert.deepEqual((await store.verify()).leftovers, []);
});
