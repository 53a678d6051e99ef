import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestSchema } from '../../src/models/manifest.js';

test('manifest placeholder parses minimal valid manifest', () => {
  const r = manifestSchema.safeParse({ name: 'x', version: '1', created: new Date().toISOString(), labels: ['a'],
    input: { name: 'in', shape: [-1, 3, 8, 8], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
    preprocess: { resize: 'squash', size: [8, 8], scale: 1 / 255 }, output: { name: 'out', kind: 'softmax' }, sha256: 'a'.repeat(64) });
  assert.equal(r.success, true, JSON.stringify(r.error?.issues));
});
