import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitStandardizer, foldIntoFirstLayer, standardize } from '../../src/learn/standardize.js';
import { createRng } from '../../src/learn/random.js';
import type { DenseLayerWeights } from '../../src/learn/models.js';

test('folding the standardisation into the first Dense gives the same outputs on raw embeddings', () => {
  const rng = createRng(5);
  const dim = 6, out = 3, n = 20;
  const x = Float32Array.from({ length: n * dim }, (_, k) => (k % dim === 4 ? 2.5 : rng() * (1 + (k % dim)))); // dim 4 is constant
  const s = fitStandardizer(x, dim);
  assert.equal(s.scale[4], 1, 'a constant dimension keeps scale 1');
  const z = standardize(x, s);
  const mean0 = Array.from({ length: n }, (_, r) => z[r * dim]!).reduce((a, b) => a + b) / n;
  assert.ok(Math.abs(mean0) < 1e-5);
  const layer = { weights: Float32Array.from({ length: dim * out }, () => rng() - 0.5), bias: Float32Array.from({ length: out }, () => rng()), inDim: dim, outDim: out, activation: 'linear' } as DenseLayerWeights;
  const [folded] = foldIntoFirstLayer([layer], s);
  const apply = (l: typeof layer, v: Float32Array, r: number) => Array.from({ length: out }, (_, j) => l.bias[j]! + Array.from({ length: dim }, (_, i) => v[r * dim + i]! * l.weights[i * out + j]!).reduce((a, b) => a + b));
  for (let r = 0; r < n; r++) {
    const want = apply(layer, z, r);
    const got = apply(folded!, x, r);
    got.forEach((g, j) => assert.ok(Math.abs(g - want[j]!) < 1e-4, `row ${r} out ${j}: ${g} vs ${want[j]}`));
  }
});
