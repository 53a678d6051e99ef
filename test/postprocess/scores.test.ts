import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelError } from '../../src/errors.js';
import { outputLooksLikeLogits, sigmoid, softmax, toProbabilities, topK } from '../../src/postprocess/scores.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('softmax matches the hand computation and sums to 1', () => {
  // e^0, e^1, e^2 = 1, 2.718281828, 7.389056099; sum 11.107337927
  const p = softmax([0, 1, 2]);
  close(p[0], 1 / 11.107337927, 1e-9);
  close(p[1], 2.718281828 / 11.107337927, 1e-9);
  close(p[2], 7.389056099 / 11.107337927, 1e-9);
  close(p.reduce((a, b) => a + b), 1);
});

test('softmax is stable for huge logits (no NaN/Infinity)', () => {
  const p = softmax([1000, 1001, -1000]);
  assert.ok(p.every(Number.isFinite));
  close(p[1], 1 / (1 + Math.exp(-1)), 1e-12);
  close(p[2], 0);
  assert.deepEqual(softmax(new Float32Array([5, 5])), [0.5, 0.5]);
});

test('sigmoid: values and stability', () => {
  close(sigmoid(0), 0.5);
  close(sigmoid(2), 1 / (1 + Math.exp(-2)));
  close(sigmoid(-2), 1 - sigmoid(2));
  assert.equal(sigmoid(-1000), 0);
  assert.equal(sigmoid(1000), 1);
});

test('toProbabilities: logits are softmaxed, softmax/probabilities are used as-is', () => {
  const labels = ['cat', 'dog', 'none'];
  assert.deepEqual(toProbabilities([0, 1, 2], 'logits', labels), { labels, probabilities: softmax([0, 1, 2]) });
  assert.deepEqual(toProbabilities(new Float32Array([0.25, 0.5, 0.25]), 'softmax', labels).probabilities, [0.25, 0.5, 0.25]);
  assert.deepEqual(toProbabilities([0.1, 0.2, 0.7], 'probabilities', labels).probabilities, [0.1, 0.2, 0.7]);
});

test('toProbabilities: one sigmoid value with two labels is [1-p, p]; multi-label sigmoid kept per class', () => {
  const binary = toProbabilities([0.8], 'sigmoid', ['cat', 'dog']);
  assert.deepEqual(binary.labels, ['cat', 'dog']);
  close(binary.probabilities[0], 0.2, 1e-12);
  close(binary.probabilities[1], 0.8, 1e-12);
  // One logit with two labels (Keras Dense(1) without activation): sigmoid first.
  const fromLogit = toProbabilities([2], 'logits', ['cat', 'dog']);
  close(fromLogit.probabilities[1], sigmoid(2));
  close(fromLogit.probabilities[0], 1 - sigmoid(2));
  // Multi-label: not renormalised.
  assert.deepEqual(toProbabilities([0.9, 0.8, 0.1], 'sigmoid', ['a', 'b', 'c']).probabilities, [0.9, 0.8, 0.1]);
});

test('toProbabilities: a probability kind holding logits gets the matching activation (labels keep their order)', () => {
  assert.equal(outputLooksLikeLogits([3.2, -1, 0.5], 'softmax'), true);
  assert.equal(outputLooksLikeLogits([0.2, 0.8], 'softmax'), false);
  assert.equal(outputLooksLikeLogits([3.2, -1], 'logits'), false);
  assert.deepEqual(toProbabilities([3.2, -1, 0.5], 'softmax', ['a', 'b', 'c']).probabilities, softmax([3.2, -1, 0.5]));
  assert.deepEqual(toProbabilities([3, -2], 'sigmoid', ['a', 'b']).probabilities, [sigmoid(3), sigmoid(-2)]);
  close(toProbabilities([-3], 'sigmoid', ['no', 'yes']).probabilities[1], sigmoid(-3));
});

test('toProbabilities: width mismatch and NaN are ModelErrors', () => {
  assert.throws(() => toProbabilities([0.5, 0.5], 'softmax', ['a', 'b', 'c']), (e: unknown) => e instanceof ModelError && e.code === 'MODEL_OUTPUT_WIDTH' && /3 labels/.test(e.message));
  assert.throws(() => toProbabilities([0.5], 'softmax', ['a', 'b', 'c']), ModelError);
  assert.throws(() => toProbabilities([NaN, 1], 'logits', ['a', 'b']), (e: unknown) => e instanceof ModelError && e.code === 'MODEL_OUTPUT_NOT_FINITE');
});

test('topK: highest first, ties in label order, k clipped', () => {
  const scores = { labels: ['a', 'b', 'c', 'd'], probabilities: [0.1, 0.4, 0.1, 0.4] };
  assert.deepEqual(topK(scores, 3), [{ label: 'b', score: 0.4 }, { label: 'd', score: 0.4 }, { label: 'a', score: 0.1 }]);
  assert.equal(topK(scores, 10).length, 4);
  assert.deepEqual(topK(scores, 0), []);
});
