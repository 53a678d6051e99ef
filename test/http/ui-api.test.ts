import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { frameId as collectFrameId } from '../../src/collect/frames.js';
import { configSchema } from '../../src/config/schema.js';
import { redactConfig } from '../../src/config/redact.js';
import type { DaemonSnapshot } from '../../src/daemon/telemetry.js';
import { createWebUi, storeRootOf, type WebUiDaemon } from '../../src/http/api.js';
import { checkAccess, checkChangeRequest, hostName, isLoopbackAddress, presentedToken } from '../../src/http/api-auth.js';
import { FpsMeter, livePayload, type LiveState } from '../../src/http/api-live.js';
import type { FinetuneProgress } from '../../src/http/api-models.js';
import { HttpServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/logger.js';
import { decisionOptionsSchema, initialDecisionState, stepDecision } from '../../src/postprocess/decision.js';
import { LatencyWindow } from '../../src/pipeline/stats.js';
import type { Frame } from '../../src/types.js';

/** The page's API on a real HttpServer with an in-memory daemon: access rules, frames, labels, models, fine-tune. */

function snapshot(now = 10_000, classified = 0): DaemonSnapshot {
  return {
    startedAt: 0, now, counters: { captured: classified, classified, dropped: 2, failed: 1 },
    latency: { total: new LatencyWindow(), inference: new LatencyWindow(), preprocess: new LatencyWindow() },
    camera: { status: 'online', description: 'folder:x', restarts: 0 },
    model: { name: 'm', version: '7', provider: 'cpu', labels: ['cat', 'dog'], dir: '/nowhere', loadedAt: 0 },
    stableLabel: 'unknown', stableConfidence: 0, reloads: { ok: 0, failed: 0 }, memory: process.memoryUsage(),
  };
}

class FakeDaemon implements WebUiDaemon {
  frame: Frame | undefined;
  reloads: string[] = [];
  snapshot(): DaemonSnapshot { return snapshot(); }
  live(): LiveState {
    return { frame: this.frame, result: undefined, decision: undefined, decisionState: initialDecisionState(), decisionOptions: decisionOptionsSchema.parse({}) };
  }
  async reloadModel(reason: string): Promise<unknown> { this.reloads.push(reason); return {}; }
}

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; json: () => Record<string, unknown> }

/** node:http, not fetch: fetch may not set Host or Origin, and those are what the rules look at. */
function call(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const post = (port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> =>
  call(port, 'POST', path, { 'content-type': 'application/json', ...headers }, JSON.stringify(body));

async function serve(daemon: WebUiDaemon, options: { auth?: string; dataDir: string; finetune?: { start(): Promise<Record<string, unknown>>; progress(): FinetuneProgress | undefined } }): Promise<HttpServer> {
  const server = new HttpServer({
    logger: silentLogger(), health: () => ({ healthy: true, reasons: [] }), metrics: () => [],
    extensions: [createWebUi({ logger: silentLogger(), daemon, finetune: options.finetune }, { auth: options.auth, dataDir: options.dataDir })],
  }, { host: '127.0.0.1', port: 0 });
  await server.start();
  return server;
}

test('access: loopback only without http.auth (and a loopback Host: no DNS rebinding); Basic or Bearer with it', async () => {
  const fake = (remoteAddress: string, headers: Record<string, string>) => ({ socket: { remoteAddress }, headers }) as never;
  assert.equal(checkAccess(fake('127.0.0.1', { host: 'localhost:8765' }), {}).ok, true);
  assert.equal(checkAccess(fake('::ffff:127.0.0.1', { host: '[::1]:8765' }), {}).ok, true);
  const lan = checkAccess(fake('192.168.1.20', { host: '192.168.1.5:8765' }), {});
  assert.equal(lan.ok, false);
  assert.match(lan.ok ? '' : lan.message, /http\.auth/);
  assert.equal(checkAccess(fake('127.0.0.1', { host: 'evil.example:8765' }), {}).ok, false);
  assert.equal(checkAccess(fake('192.168.1.20', { host: 'cam.local', authorization: 'Bearer sesame-1234' }), { auth: 'sesame-1234' }).ok, true);
  assert.deepEqual([isLoopbackAddress('127.8.0.1'), isLoopbackAddress('10.0.0.1'), isLoopbackAddress(undefined)], [true, false, false]);
  assert.deepEqual([hostName('[::1]:80'), hostName('LocalHost:1'), hostName(undefined)], ['[::1]', 'localhost', '']);
  assert.equal(presentedToken(`Basic ${Buffer.from('anyone:pa:ss').toString('base64')}`), 'pa:ss');
  assert.equal(presentedToken('Digest x'), undefined);

  const data = await mkdtemp(join(tmpdir(), 'edgecam-ui-api-'));
  const open = await serve(new FakeDaemon(), { dataDir: data });
  const locked = await serve(new FakeDaemon(), { dataDir: data, auth: 'sesame-1234' });
  try {
    assert.equal((await call(open.port!, 'GET', '/api/live')).status, 200);
    const rebinding = await call(open.port!, 'GET', '/api/live', { host: `evil.example:${open.port}` });
    assert.equal(rebinding.status, 403);
    assert.equal((await call(open.port!, 'GET', '/healthz', { host: `evil.example:${open.port}` })).status, 200, '/healthz stays open');

    const none = await call(locked.port!, 'GET', '/');
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic realm="edgecam"/);
    const basic = (pw: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`me:${pw}`).toString('base64')}` });
    assert.equal((await call(locked.port!, 'GET', '/', basic('wrong-password'))).status, 401);
    const page = await call(locked.port!, 'GET', '/', basic('sesame-1234'));
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<title>edgecam<\/title>/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal((await call(locked.port!, 'GET', '/api/live', { authorization: 'Bearer sesame-1234', host: 'cam.local' })).status, 200);
    assert.equal((await call(locked.port!, 'GET', '/metrics')).status, 200, '/metrics needs no password, as before');
  } finally {
    await open.stop();
    await locked.stop();
    await rm(data, { recursive: true, force: true });
  }
});

test('changes: JSON only, no foreign Origin; wrong methods and paths answered clearly; static files never leave the ui folder', async () => {
  const plain = { headers: { 'content-type': 'text/plain' } } as never;
  assert.equal(checkChangeRequest(plain).ok, false);
  assert.equal(checkChangeRequest({ headers: { 'content-type': 'application/json', origin: 'null' } } as never).ok, false);
  const data = await mkdtemp(join(tmpdir(), 'edgecam-ui-api-'));
  const server = await serve(new FakeDaemon(), { dataDir: data });
  const port = server.port!;
  try {
    const form = await call(port, 'POST', '/api/models/rollback', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1');
    assert.equal(form.status, 403);
    const foreign = await post(port, '/api/models/rollback', {}, { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match(String(foreign.json().error), /another site/);
    const same = await post(port, '/api/models/rollback', {}, { origin: `http://127.0.0.1:${port}` });
    assert.equal(same.status, 409, 'passes the origin check, then: no store');
    assert.match(String(same.json().error), /not a versioned store/);
    assert.equal((await call(port, 'GET', '/api/models/rollback')).status, 405);
    assert.equal((await call(port, 'POST', '/api/live', { 'content-type': 'application/json' }, '{}')).status, 405);
    assert.equal((await call(port, 'GET', '/api/nothing')).status, 404);
    assert.equal((await post(port, '/api/label', '[1,2]')).status, 400, 'body must be an object');
    assert.equal((await call(port, 'POST', '/api/label', { 'content-type': 'application/json' }, '{oops')).status, 400);
    for (const path of ['/ui/../../package.json', '/ui/%2e%2e%2fpackage.json', '/ui/nope.js']) {
      assert.equal((await call(port, 'GET', path)).status, 404, path);
    }
    const js = await call(port, 'GET', '/ui/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal((await call(port, 'GET', '/somewhere-else')).status, 404, 'the built-in 404 still answers other paths');
  } finally {
    await server.stop();
    await rm(data, { recursive: true, force: true });
  }
});

test('/api/frame: 404 before the first frame, the bytes as sent with their type, 304 for the same frame', async () => {
  const daemon = new FakeDaemon();
  const data = await mkdtemp(join(tmpdir(), 'edgecam-ui-api-'));
  const server = await serve(daemon, { dataDir: data });
  const port = server.port!;
  try {
    assert.equal((await call(port, 'GET', '/api/frame')).status, 404);
    const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#0f0' } }).png().toBuffer();
    daemon.frame = { data: png, timestamp: 1000, seq: 3 };
    const first = await call(port, 'GET', '/api/frame');
    assert.equal(first.status, 200);
    assert.equal(first.headers['content-type'], 'image/png');
    assert.deepEqual(first.body, png);
    const again = await call(port, 'GET', '/api/frame', { 'if-none-match': String(first.headers.etag) });
    assert.equal(again.status, 304);
    daemon.frame = { data: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), timestamp: 2000, seq: 4 };
    const next = await call(port, 'GET', '/api/frame', { 'if-none-match': String(first.headers.etag) });
    assert.equal(next.status, 200);
    assert.equal(next.headers['content-type'], 'image/jpeg');
  } finally {
    await server.stop();
    await rm(data, { recursive: true, force: true });
  }
});

test('labels over the API: bad ids and class names refused with the CLI\'s messages, unknown frames 404, relabel and undo', async () => {
  const data = await mkdtemp(join(tmpdir(), 'edgecam-ui-api-'));
  const server = await serve(new FakeDaemon(), { dataDir: data });
  const port = server.port!;
  const id = collectFrameId(Date.UTC(2024, 0, 2, 3, 4, 5, 6), 9);
  try {
    await mkdir(join(data, 'unlabelled'), { recursive: true });
    await writeFile(join(data, 'unlabelled', `${id}.jpg`), Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
    await writeFile(join(data, 'unlabelled', `${id}.json`), JSON.stringify({ id, time: 'x', reason: 'sample', bytes: 4 }));
    const list = (await call(port, 'GET', '/api/label/frames')).json();
    assert.deepEqual(list.classes, ['cat', 'dog'], 'the model\'s classes');
    assert.deepEqual((list.frames as { id: string; uncertainty: number }[]).map((f) => [f.id, f.uncertainty]), [[id, 1]], 'no scores: most uncertain');
    assert.equal((await call(port, 'GET', `/api/label/image/${id}`)).status, 200);
    assert.equal((await call(port, 'GET', '/api/label/image/..%2F..%2Fetc%2Fpasswd')).status, 400);

    assert.equal((await post(port, '/api/label', { ids: ['../../x'], label: 'cat' })).status, 400);
    const badClass = await post(port, '/api/label', { ids: [id], label: '../cat' });
    assert.equal(badClass.status, 400);
    assert.match(String(badClass.json().error), /path separator/);
    assert.equal((await post(port, '/api/label', { ids: [collectFrameId(0, 1)], label: 'cat' })).status, 404);

    assert.equal((await post(port, '/api/label', { ids: [id], label: 'cat' })).status, 200);
    assert.deepEqual(await readdir(join(data, 'labelled', 'cat')), [`${id}.jpg`, `${id}.json`]);
    assert.equal((await post(port, '/api/label', { ids: [id], label: 'dog' })).status, 200, 're-label');
    assert.equal((await post(port, '/api/label/undo', { id, label: 'cat' })).status, 200, 'undo a re-label: back to cat');
    assert.deepEqual(await readdir(join(data, 'labelled', 'cat')), [`${id}.jpg`, `${id}.json`]);
    const undone = await post(port, '/api/label/undo', { id, label: null });
    assert.deepEqual(undone.json(), { id, unlabelled: true, from: 'cat' });
    assert.deepEqual(await readdir(join(data, 'unlabelled')), [`${id}.jpg`, `${id}.json`]);
    assert.deepEqual(await readdir(join(data, 'labelled', 'cat')), []);
    const sidecar = JSON.parse(await (await import('node:fs/promises')).readFile(join(data, 'unlabelled', `${id}.json`), 'utf8'));
    assert.equal(sidecar.label, undefined, 'the sidecar forgets the label');
    assert.equal((await call(port, 'GET', '/api/label/count')).json().unlabelled, 1);
  } finally {
    await server.stop();
    await rm(data, { recursive: true, force: true });
  }
});

test('fine-tune from the page: 501 without the learning loop; started and progress with it', async () => {
  const data = await mkdtemp(join(tmpdir(), 'edgecam-ui-api-'));
  const without = await serve(new FakeDaemon(), { dataDir: data });
  let progress: FinetuneProgress | undefined;
  const starts: number[] = [];
  const withIt = await serve(new FakeDaemon(), {
    dataDir: data,
    finetune: { start: async () => { starts.push(1); progress = { state: 'training', epoch: 3, epochs: 20 }; return { id: 'job-1' }; }, progress: () => progress },
  });
  try {
    assert.equal((await post(without.port!, '/api/models/finetune', {})).status, 501);
    assert.equal((await call(without.port!, 'GET', '/api/models')).json().finetune, null);
    assert.deepEqual((await call(withIt.port!, 'GET', '/api/models')).json().finetune, { state: 'idle' });
    const started = (await post(withIt.port!, '/api/models/finetune', {})).json();
    assert.deepEqual(started, { started: { id: 'job-1' }, finetune: { state: 'training', epoch: 3, epochs: 20 } });
    assert.deepEqual(starts, [1]);
    assert.deepEqual((await call(withIt.port!, 'GET', '/api/models')).json().finetune, { state: 'training', epoch: 3, epochs: 20 });
  } finally {
    await without.stop();
    await withIt.stop();
    await rm(data, { recursive: true, force: true });
  }
});

test('live payload: scores in model order, votes, smoothed values, thresholds, the candidate and its dwell; fps over a window', () => {
  const options = decisionOptionsSchema.parse({ smoothing: { method: 'vote', window: 3, required: 2 }, thresholds: { dog: 0.6 }, minDwellMs: 2000 });
  let state = initialDecisionState();
  let decision;
  for (const [t, cat] of [[0, 0.9], [100, 0.9], [2200, 0.9], [3000, 0.1], [3100, 0.1]] as const) {
    ({ state, decision } = stepDecision(state, { labels: ['cat', 'dog'], probabilities: [cat, 1 - cat] }, t, options));
  }
  const live: LiveState = {
    frame: { data: Buffer.alloc(1), timestamp: 3100, seq: 4, origin: '/x/y/cam.jpg' },
    result: { frameSeq: 4, frameTime: 3100, scores: { labels: ['cat', 'dog'], probabilities: [0.1, 0.9] }, totalMs: 12.345 },
    decision, decisionState: state, decisionOptions: options,
  };
  const s = { ...snapshot(3600), stableLabel: state.stableLabel, stableConfidence: decision!.stableConfidence };
  const p = livePayload(s, live, 4.5) as Record<string, any>;
  assert.deepEqual(p.scores.map((r: { label: string }) => r.label), ['cat', 'dog']);
  assert.deepEqual(p.scores.map((r: { score: number }) => r.score), [0.1, 0.9]);
  assert.deepEqual(p.scores.map((r: { votes: number }) => r.votes), [1, 2], 'the last 3 frames: cat once, dog twice');
  assert.deepEqual(p.scores.map((r: { enter: number }) => r.enter), [0.7, 0.6], 'per-class threshold');
  assert.equal(p.stable.label, 'cat', 'dog has not held long enough yet');
  assert.deepEqual(p.stable.candidate, { label: 'dog', heldMs: 500, needMs: 2000 });
  assert.deepEqual(p.frame, { id: '3100-4', seq: 4, time: 3100, origin: 'cam.jpg' });
  assert.equal(p.classified.latencyMs, 12.35);
  assert.equal(p.fps, 4.5);
  assert.deepEqual(p.counters, { captured: 0, classified: 0, dropped: 2, failed: 1 });

  const meter = new FpsMeter(5000);
  assert.equal(meter.sample(0, 0), null, 'no rate from one sample');
  assert.equal(meter.sample(5, 1000), 5);
  assert.equal(meter.sample(10, 2000), 5);
  assert.equal(meter.sample(40, 8000), 5, 'window slides: (40-10)/6 s');
});

test('config: http.auth is a secret of at least 8 characters; storeRootOf names the store of an active folder', () => {
  const config = configSchema.parse({ http: { auth: 'long-enough-token' } });
  assert.equal(config.http.ui, true);
  assert.equal(redactConfig(config).http.auth, '[redacted]');
  assert.equal(configSchema.safeParse({ http: { auth: 'short' } }).success, false);
  assert.equal(storeRootOf('/srv/edgecam/models/active'), '/srv/edgecam/models');
  assert.equal(storeRootOf('/srv/edgecam/models/pets-cnn'), undefined);
});
