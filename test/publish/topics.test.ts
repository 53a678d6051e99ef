import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cameraTopic, isoTime, topicMatches, topicSafeId } from '../../src/publish/topics.js';

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
