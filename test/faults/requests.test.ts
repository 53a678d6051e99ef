import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import mqtt from 'mqtt';
import { startMosquitto } from '../fakes/mosquitto.js';
import { solidJpeg, writeColourModel, writeImages } from '../daemon/fixtures.js';
import { buildDaemon, waitUntil } from './harness.js';
import { ANSWERABLE, generateRequests } from './request-payloads.js';

/**
 * 10,000 generated requests against the running daemon over a real broker. Every request on a command name the
 * router can answer gets exactly one well-formed response (ok or an error with a code); others are ignored; nothing
 * is written outside the data folder, whatever the labels and folders say.
 */

const COUNT = 10_000;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort();
}

async function hostileRequests(t: TestContext, learning: boolean): Promise<void> {
  const sandbox = await mkdtemp(join(tmpdir(), 'edgecam-faults-requests-'));
  const work = join(sandbox, 'app');
  const dataDir = join(work, 'data', 'collect');
  // A place outside the sandbox that absolute "escape" paths point at; it must still not exist at the end.
  const escapeDir = join(tmpdir(), `edgecam-escape-${process.pid}-${Date.now()}`);
  const broker = await startMosquitto();
  await writeImages(join(work, 'camera'), { 'a.jpg': await solidJpeg(240, 10, 10) });
  await writeColourModel(join(work, 'model'), ['red', 'green', 'blue']);
  const { daemon } = buildDaemon({
    config: {
      camera: { source: `folder:${join(work, 'camera')}`, fps: 5 },
      model: { dir: join(work, 'model'), watch: false },
      mqtt: { url: broker.url, baseTopic: 'bq', cameraId: 'door', discovery: { enabled: false } },
      http: { enabled: false },
      collect: { dir: dataDir, enabled: learning },
      log: { level: 'silent', decisions: false },
    },
  });
  const requests = generateRequests(COUNT, escapeDir, { learning });
  const responses: { command: string; body: Record<string, unknown> | undefined; raw: string }[] = [];
  const client = await mqtt.connectAsync(broker.url, { clientId: 'faults-requests', reconnectPeriod: 0 });
  client.on('message', (topic, payload) => {
    const raw = payload.toString();
    let body: Record<string, unknown> | undefined;
    try { body = JSON.parse(raw) as Record<string, unknown>; } catch { body = undefined; }
    responses.push({ command: topic.slice('bq/response/'.length), body, raw });
  });
  await client.subscribeAsync('bq/response/#', { qos: 1 });
  const before = await filesUnder(sandbox);
  try {
    await daemon.start();
    await waitUntil(() => daemon.snapshot().counters.classified > 0, 15_000, 'a frame to capture');
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < requests.length) {
        const r = requests[next++]!;
        await client.publishAsync(`bq/request/${r.command}`, r.payload, { qos: 1 });
      }
    }));
    const answerable = requests.filter((r) => ANSWERABLE.test(r.command));
    await waitUntil(() => responses.length >= answerable.length, 120_000, `${answerable.length} responses (got ${responses.length})`);
    await new Promise((r) => setTimeout(r, 300)); // anything beyond one response per request would show up now
    assert.equal(responses.length, answerable.length, 'exactly one response per answerable request, none for the others');
    assert.ok(answerable.length < COUNT, 'some requests were not answerable and were ignored');

    const byCommand = new Map<string, number>();
    for (const r of answerable) byCommand.set(r.command, (byCommand.get(r.command) ?? 0) + 1);
    for (const [command, n] of byCommand) assert.equal(responses.filter((r) => r.command === command).length, n, `responses on response/${command}`);

    let ok = 0;
    for (const r of responses) {
      assert.ok(r.body, `response is JSON: ${r.raw.slice(0, 200)}`);
      assert.ok(r.body.status === 'ok' || r.body.status === 'error', r.raw.slice(0, 200));
      if (r.body.status === 'error') {
        assert.equal(typeof r.body.code, 'string', r.raw.slice(0, 200));
        assert.ok(typeof r.body.error === 'string' && r.body.error.length > 0 && r.body.error.length < 2000, `short error text: ${r.raw.slice(0, 200)}`);
      } else {
        ok += 1;
        const image = (r.body.data as { image?: string } | undefined)?.image;
        if (image) assert.ok(!relative(dataDir, resolve(image)).startsWith('..'), `capture saved inside the data folder: ${image}`);
      }
    }
    if (!learning) assert.ok(responses.some((r) => r.command === 'capture' && r.body?.status === 'ok'), 'traversal labels were saved (cleaned), not refused wholesale');
    else assert.ok(responses.some((r) => r.command === 'label') && responses.some((r) => r.command === 'finetune'), 'the learning loop\'s commands were exercised');
    assert.ok(ok < responses.length, 'most requests were refused');

    const codes = new Map<string, number>();
    for (const r of responses) codes.set(String(r.body?.code ?? 'ok'), (codes.get(String(r.body?.code ?? 'ok')) ?? 0) + 1);
    t.diagnostic(`${COUNT} requests, ${answerable.length} answerable, ${COUNT - answerable.length} ignored; responses by code: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}`);
    // REQUEST_FAILED is the router's code for an exception nobody anticipated (a bug), not a refused request.
    const unexpected = responses.filter((r) => r.body?.code === 'REQUEST_FAILED').map((r) => r.raw.slice(0, 300));
    assert.deepEqual(unexpected, [], 'every failure is an anticipated, explained one');
    const after = await filesUnder(sandbox);
    const added = after.filter((f) => !before.includes(f));
    const outside = added.filter((f) => relative(dataDir, f).startsWith('..'));
    assert.deepEqual(outside, [], 'no file written outside the data folder');
    t.diagnostic(`files added inside the data folder: ${added.length}, e.g. ${added.slice(0, 3).map((f) => relative(dataDir, f)).join(', ')}`);
    assert.deepEqual(before.filter((f) => !after.includes(f)), [], 'no file removed');
    assert.equal(existsSync(escapeDir), false, `nothing created at ${escapeDir}`);
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');

    // Still serving: frames classified, a plain status request answered.
    const classified = daemon.snapshot().counters.classified;
    await waitUntil(() => daemon.snapshot().counters.classified > classified, 10_000, 'classification continues');
    const mark = responses.length;
    await client.publishAsync('bq/request/status', JSON.stringify({ transaction: 'final' }), { qos: 1 });
    await waitUntil(() => responses.slice(mark).some((r) => r.body?.transaction === 'final' && r.body.status === 'ok'), 10_000, 'final status answered');
  } finally {
    await daemon.stop();
    await client.endAsync(true);
    await broker.stop();
    await rm(sandbox, { recursive: true, force: true });
    await rm(escapeDir, { recursive: true, force: true });
  }
}

test('10,000 hostile MQTT requests (collection off): each answered with ok/error or ignored, nothing written outside the data folder, daemon still serving', async (t) => {
  await hostileRequests(t, false);
});

test('10,000 hostile MQTT requests (collection and learning loop on: label, finetune): same guarantees', async (t) => {
  await hostileRequests(t, true);
});
