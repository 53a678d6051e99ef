import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cameraTopic, classificationJson, isoTime, topicMatches, topicSafeId } from '../../src/publish/topics.js';

test('topic filters: + matches one level, # the rest', () => {
  assert.equal(topicMatches('edgecam/request/+', 'edgecam/request/status'), true);
  assert.equal(topicMatches('edgecam/request/+', 'edgecam/request/a/b'), false);
  assert.equal(topicMatches('edgecam/request/+', 'edgecam/request'), false);
  assert.equal(topicMatches('homeassistant/+/node/+/config', 'homeassistant/sensor/node/label/config'), true);
  assert.equal(topicMatches('homeassistant/+/node/+/config', 'homeassistant/sensor/other/label/config'), false);
  assert.equal(topicMatches('a/#', 'a/b/c'), true);
  assert.equal(topicMatches('a/b', 'a/b'), true);
  assert.equal(topicMatches('a/b', 'a/b/c'), false);
});

test('topic-safe ids and camera topics', () => {
  assert.equal(topicSafeId('Front Door'), 'front_door');
  assert.equal(topicSafeId('  ../#+ '), 'x');
  assert.equal(topicSafeId('cat-1'), 'cat-1');
  assert.equal(cameraTopic('door', 'state'), 'door/state');
  assert.equal(isoTime(0), '1970-01-01T00:00:00.000Z');
  assert.equal(isoTime('2025-01-01T00:00:00Z'), '2025-01-01T00:00:00Z');
});

test('classification JSON from a score list: the same text as stringifying a toFixed(4) record, in the same key order', () => {
  const labels = ['cat', 'dog "the good boy"', 'naïve\\slash', 'none', ...Array.from({ length: 996 }, (_, i) => `class ${i}`)];
  let seed = 11;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  // float32 model output, with the corners: exact 0 and 1, a tie at the 5th decimal, NaN.
  const probabilities = Array.from(new Float32Array(labels.map(() => random() ** 4)));
  probabilities[3] = 0;
  probabilities[4] = 1;
  probabilities[5] = 0.00015;
  probabilities[6] = Number.NaN;
  const common = { model: { name: 'm', version: '2' }, provider: 'cpu', latencyMs: 12.34 };
  const frameTime = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
  // The daemon's key order: label, confidence, scores, model, provider, latencyMs, frameTime, stableLabel, stableConfidence.
  const fast = classificationJson({ label: 'cat', confidence: 0.9123, scores: { labels, probabilities }, ...common, frameTime, stableLabel: 'cat', stableConfidence: 0.8 });
  const record = Object.fromEntries(labels.map((l, i) => [l, Number(probabilities[i]!.toFixed(4))]));
  const reference = JSON.stringify({ label: 'cat', confidence: 0.9123, scores: record, ...common, frameTime: isoTime(frameTime), stableLabel: 'cat', stableConfidence: 0.8 });
  assert.ok(fast === reference, `differs from the reference at ${[...fast].findIndex((c, i) => c !== reference[i])}: ${fast.slice(0, 300)}`);
  assert.equal(JSON.parse(fast).scores['class 995'], record['class 995']);

  // Without the optional fields, and with a plain record (passed through as it is).
  const minimal = { label: 'a', confidence: 0.5, ...common, scores: { labels: ['a'], probabilities: [0.5] }, frameTime: '2025-01-01T00:00:00.000Z' };
  assert.deepEqual(JSON.parse(classificationJson(minimal)), { ...minimal, scores: { a: 0.5 } });
  assert.equal(classificationJson({ ...minimal, scores: { a: 0.123456 } }), JSON.stringify({ ...minimal, scores: { a: 0.123456 } }));
});
