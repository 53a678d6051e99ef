import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { EdgecamError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { EdgecamMqtt } from '../../src/publish/mqtt.js';
import { RequestRouter } from '../../src/publish/requests.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { makeMqtt, recorder, type Recorder } from './helpers.js';

let broker: MosquittoBroker;
let mqtt: EdgecamMqtt;
let router: RequestRouter;
let client: Recorder;
const thresholds: Record<string, number> = {};

before(async () => {
  broker = await startMosquitto();
  mqtt = makeMqtt(broker.url, { baseTopic: 'req' });
  await mqtt.start();
  router = new RequestRouter({ mqtt, logger: silentLogger() }, { maxPayloadBytes: 1024 });
  router
    .register('set-threshold', z.object({ label: z.string().min(1), threshold: z.number().min(0).max(1) }).strict(), async (p) => {
      thresholds[p.label] = p.threshold;
      return { label: p.label, threshold: p.threshold };
    })
    .register('status', z.object({}).passthrough(), async () => ({ uptime: 1 }))
    .register('reload-model', z.object({}).strict(), async () => {
      throw new EdgecamError('MODEL_INVALID', 'The new model failed validation; the old one stays active.');
    })
    .register('crash', z.object({}), async () => { throw new TypeError('boom'); });
  await router.start();
  client = await recorder(broker.url, ['req/response/#']);
});

after(async () => {
  await client.end();
  await router.stop();
  await router.stop();
  await mqtt.stop();
  await broker.stop();
});

/** Sends a request and returns the response that follows it on that command's response topic. */
async function request(command: string, payload: string | Buffer): Promise<Record<string, unknown>> {
  const from = client.messages.length;
  await client.client.publishAsync(`req/request/${command}`, payload, { qos: 1 });
  const m = await client.waitFor((x) => client.messages.indexOf(x) >= from && x.topic === `req/response/${command}`, `response to ${command}`);
  return JSON.parse(m.text) as Record<string, unknown>;
}

test('a valid request is handled and answered with data and the echoed transaction', async () => {
  const r = await request('set-threshold', JSON.stringify({ label: 'cat', threshold: 0.8, transaction: 'abc' }));
  assert.deepEqual(r, { status: 'ok', data: { label: 'cat', threshold: 0.8 }, transaction: 'abc' });
  assert.equal(thresholds.cat, 0.8);
  assert.deepEqual(await request('status', JSON.stringify({ transaction: 7 })), { status: 'ok', data: { uptime: 1 }, transaction: 7 });
  assert.deepEqual(await request('status', ''), { status: 'ok', data: { uptime: 1 } }, 'an empty payload means {}');
});

test('wrong types are answered with an error naming the field', async () => {
  const r = await request('set-threshold', JSON.stringify({ label: 'cat', threshold: 'high', transaction: 3 }));
  assert.equal(r.status, 'error');
  assert.equal(r.code, 'REQUEST_INVALID');
  assert.match(String(r.error), /threshold/);
  assert.equal(r.transaction, 3);
  assert.equal(thresholds.cat, 0.8, 'nothing changed');
});

test('malformed JSON, non-objects, huge payloads and unknown commands get errors', async () => {
  assert.equal((await request('set-threshold', '{"label": "cat", ')).code, 'REQUEST_MALFORMED');
  assert.equal((await request('set-threshold', '[1,2,3]')).code, 'REQUEST_MALFORMED');
  assert.equal((await request('set-threshold', '"cat"')).code, 'REQUEST_MALFORMED');
  assert.equal((await request('set-threshold', 'null')).code, 'REQUEST_MALFORMED');
  const huge = await request('set-threshold', JSON.stringify({ label: 'x'.repeat(5000), threshold: 0.5 }));
  assert.equal(huge.code, 'REQUEST_TOO_LARGE');
  const unknown = await request('self-destruct', JSON.stringify({ transaction: 'z' }));
  assert.equal(unknown.status, 'error');
  assert.equal(unknown.code, 'REQUEST_UNKNOWN');
  assert.match(String(unknown.error), /set-threshold/, 'lists the known commands');
  assert.equal(unknown.transaction, 'z');
});

test('handler errors become error responses with the error code', async () => {
  const r = await request('reload-model', JSON.stringify({ transaction: 1 }));
  assert.deepEqual(r, { status: 'error', error: 'The new model failed validation; the old one stays active.', code: 'MODEL_INVALID', transaction: 1 });
  const c = await request('crash', '{}');
  assert.deepEqual([c.status, c.code, c.error], ['error', 'REQUEST_FAILED', 'boom']);
});

test('transactions that are not a short string or a number are not echoed', async () => {
  const r = await request('status', JSON.stringify({ transaction: { nested: true } }));
  assert.equal('transaction' in r, false);
  const long = await request('status', JSON.stringify({ transaction: 't'.repeat(500) }));
  assert.equal('transaction' in long, false);
});

test('garbage: 300 random payloads are all answered, topics we do not own are ignored, nothing crashes', async () => {
  const from = client.messages.length;
  const payloads: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    const kind = i % 6;
    if (kind === 0) payloads.push(randomBytes(i % 50));
    else if (kind === 1) payloads.push(Buffer.from(JSON.stringify({ label: randomBytes(8).toString('hex'), threshold: i })));
    else if (kind === 2) payloads.push(Buffer.from(JSON.stringify({ label: '../../etc/passwd', threshold: 0.5, extra: 1 })));
    else if (kind === 3) payloads.push(Buffer.from(JSON.stringify([{ label: 'cat' }])));
    else if (kind === 4) payloads.push(Buffer.from('{"label":"cat","threshold":1e400}'));
    else payloads.push(Buffer.from('\u0000\u00ff{'));
  }
  for (const p of payloads) client.client.publish('req/request/set-threshold', p, { qos: 1 });
  await client.client.publishAsync('req/request/a/b', '{}', { qos: 1 });
  const answers = await client.waitForCount((m) => client.messages.indexOf(m) >= from && m.topic === 'req/response/set-threshold', 300, '300 answers', 15_000);
  for (const a of answers) {
    const body = JSON.parse(a.text) as { status: string };
    assert.ok(body.status === 'ok' || body.status === 'error');
  }
  // Only the in-range numeric thresholds (kind 1, i = 1 → threshold 1) could have succeeded.
  assert.equal(answers.filter((a) => JSON.parse(a.text).status === 'ok').length, 1);
  assert.equal(client.messages.some((m) => m.topic === 'req/response/a/b' || m.topic === 'req/response/a'), false);
  // The subscription (request/+) keeps a/b away; a topic that reaches handle() without being ours is ignored too.
  const ignoredBefore = router.stats().ignored;
  await router.handle('other/request/status', Buffer.from('{}'));
  await router.handle('req/request/', Buffer.from('{}'));
  assert.equal(router.stats().ignored, ignoredBefore + 2);
  // Still serving afterwards.
  assert.equal((await request('status', '{}')).status, 'ok');
});

test('register refuses bad and duplicate command names', () => {
  assert.throws(() => router.register('status', z.object({}), async () => 1), /registered twice/);
  assert.throws(() => router.register('a/b', z.object({}), async () => 1), /Command name/);
});
