import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { silentLogger } from '../../src/logger.js';
import { systemClock, type Frame } from '../../src/types.js';
import { SnapshotSource } from '../../src/capture/snapshot-source.js';
import { CaptureError } from '../../src/capture/errors.js';
import { freePort } from '../fakes/ffmpeg.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local camera-like HTTP server; returns its base URL and the requests it saw. */
async function camera(handler: Handler) {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => { requests.push(req); handler(req, res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, requests, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const deps = () => ({ logger: silentLogger(), clock: systemClock });

function firstError(source: SnapshotSource): Promise<CaptureError> {
  return new Promise((resolve) => source.on('error', (e) => resolve(e as CaptureError)));
}

test('polls a JPEG URL at fps with basic auth taken from the URL; the password is masked', { timeout: 10_000 }, async (t) => {
  const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: 'blue' } }).jpeg().toBuffer();
  const cam = await camera((_req, res) => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(jpeg); });
  t.after(cam.close);
  const url = cam.base.replace('http://', 'http://esp:s3cret@') + '/capture';
  const source = new SnapshotSource(deps(), { url, fps: 20 });
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  await source.start();
  while (frames.length < 3) await new Promise((r) => setTimeout(r, 10));
  await source.stop();
  await source.stop();
  assert.deepEqual(frames[0]!.data, jpeg);
  assert.equal(source.status, 'offline');
  assert.equal(cam.requests[0]!.url, '/capture');
  assert.equal(cam.requests[0]!.headers.authorization, `Basic ${Buffer.from('esp:s3cret').toString('base64')}`);
  assert.ok(!source.description.includes('s3cret'));
});

test('HTTP 404 fails after maxConsecutiveFailures with the status and a hint', { timeout: 10_000 }, async (t) => {
  const cam = await camera((_req, res) => { res.writeHead(404); res.end('nope'); });
  t.after(cam.close);
  const source = new SnapshotSource(deps(), { url: `${cam.base}/jpg`, fps: 50, maxConsecutiveFailures: 3 });
  const failed = firstError(source);
  await source.start();
  const err = await failed;
  assert.equal(err.code, 'SNAPSHOT_HTTP');
  assert.match(err.message, /HTTP 404.*check the path/);
  assert.equal(cam.requests.length, 3);
  assert.equal(source.failedPolls, 3);
  await source.stop();
});

test('a camera that never answers times out', { timeout: 10_000 }, async (t) => {
  const cam = await camera(() => { /* hold the request open */ });
  t.after(cam.close);
  const source = new SnapshotSource(deps(), { url: cam.base, timeoutMs: 200, maxConsecutiveFailures: 1 });
  const failed = firstError(source);
  await source.start();
  const err = await failed;
  assert.equal(err.code, 'SNAPSHOT_TIMEOUT');
  assert.match(err.message, /within 200 ms/);
  await source.stop();
});

test('a body that is not a JPEG is rejected; one good answer resets the failure count', { timeout: 10_000 }, async (t) => {
  let n = 0;
  const jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).jpeg().toBuffer();
  const cam = await camera((_req, res) => {
    n += 1;
    if (n === 2) { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(jpeg); return; }
    res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>login</html>');
  });
  t.after(cam.close);
  const source = new SnapshotSource(deps(), { url: cam.base, fps: 50, maxConsecutiveFailures: 2 });
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  const failed = firstError(source);
  await source.start();
  const err = await failed;
  assert.equal(err.code, 'SNAPSHOT_NOT_JPEG');
  assert.match(err.message, /text\/html/);
  assert.equal(frames.length, 1);
  assert.equal(n, 4, 'fail, ok (reset), fail, fail');
  await source.stop();
});

test('nothing listening: SNAPSHOT_FAILED names the cause', { timeout: 10_000 }, async () => {
  const port = await freePort();
  const source = new SnapshotSource(deps(), { url: `http://127.0.0.1:${port}/capture`, maxConsecutiveFailures: 1 });
  const failed = firstError(source);
  await source.start();
  const err = await failed;
  assert.equal(err.code, 'SNAPSHOT_FAILED');
  assert.match(err.message, /ECONNREFUSED/);
  await source.stop();
});

test('invalid URLs are refused at construction', () => {
  assert.throws(() => new SnapshotSource(deps(), { url: 'ftp://cam/x.jpg' }), /must be http or https/);
  assert.throws(() => new SnapshotSource(deps(), { url: 'not a url' }), (e: unknown) => e instanceof CaptureError && e.code === 'CAPTURE_SPEC_INVALID');
});
