import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { silentLogger } from '../../src/logger.js';
import { EdgecamError } from '../../src/errors.js';
import { HttpServer, type HealthReport } from '../../src/http/server.js';
import { renderPrometheus, type Metric } from '../../src/http/metrics.js';

test('GET /healthz: 200 when healthy, 503 with reasons when not; GET /metrics: Prometheus text', async () => {
  let health: HealthReport = { healthy: true, reasons: [], camera: 'online' };
  let frames = 3;
  const server = new HttpServer({
    logger: silentLogger(),
    health: () => health,
    metrics: () => [{ name: 'edgecam_frames_total', help: 'Frames by outcome', type: 'counter', samples: [{ value: frames, labels: { outcome: 'classified' } }] }],
  }, { host: '127.0.0.1', port: 0 });
  await server.start();
  const base = `http://127.0.0.1:${server.port}`;
  try {
    let res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { healthy: true, reasons: [], camera: 'online' });

    health = { healthy: false, reasons: ['camera is stalled', 'no model loaded'], camera: 'stalled' };
    res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(((await res.json()) as HealthReport).reasons, ['camera is stalled', 'no model loaded']);

    frames = 7;
    res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(await res.text(), '# HELP edgecam_frames_total Frames by outcome\n# TYPE edgecam_frames_total counter\nedgecam_frames_total{outcome="classified"} 7\n');

    res = await fetch(`${base}/nope`);
    assert.equal(res.status, 404);
    res = await fetch(`${base}/healthz`, { method: 'POST' });
    assert.equal(res.status, 405);
  } finally {
    await server.stop();
    await server.stop();
  }
  await assert.rejects(fetch(`${base}/healthz`));
});

test('a taken port is a clear EdgecamError', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  const server = new HttpServer({ logger: silentLogger(), health: () => ({ healthy: true, reasons: [] }), metrics: () => [] }, { host: '127.0.0.1', port });
  try {
    await assert.rejects(server.start(), (err: unknown) => err instanceof EdgecamError && err.code === 'HTTP_LISTEN_FAILED' && /EADDRINUSE/.test(err.message));
  } finally {
    await server.stop();
    blocker.close();
  }
});

test('renderPrometheus escapes label values and writes special numbers', () => {
  const metrics: Metric[] = [
    { name: 'm', help: 'a\nb', type: 'gauge', samples: [{ value: NaN, labels: { model: 'say "hi"\\' } }, { value: Infinity }] },
  ];
  assert.equal(renderPrometheus(metrics), '# HELP m a\\nb\n# TYPE m gauge\nm{model="say \\"hi\\"\\\\"} NaN\nm +Inf\n');
});
