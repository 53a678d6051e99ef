import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frameTimeOf, uniqueMsClock } from '../../src/bench/latency-probe.js';
import { median, percentile, rssGrowth, type RssSample } from '../../src/bench/stats.js';
import { systemClock } from '../../src/types.js';

test('percentile: nearest rank, NaN when empty', () => {
  const xs = [5, 1, 4, 2, 3];
  assert.equal(percentile(xs, 50), 3);
  assert.equal(percentile(xs, 99), 5);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(median([10, 30, 20, 40]), 20);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.deepEqual(xs, [5, 1, 4, 2, 3], 'input not sorted in place');
});

test('rssGrowth: medians of the first and last steady stretches, warm-up ignored, one GC peak ignored', () => {
  const flat: RssSample[] = Array.from({ length: 60 }, (_, i) => ({ t: (i + 1) * 10, rssMb: i === 59 ? 200 : 100, fps: 50 }));
  flat[0] = { t: 10, rssMb: 40, fps: 50 }; // warm-up sample, excluded by warmupS
  const g = rssGrowth(flat, 60);
  assert.equal(g.baselineMb, 100);
  assert.equal(g.endMb, 100, 'a single peak at the end does not read as growth');
  assert.equal(g.growthPct, 0);

  const leaking = Array.from({ length: 60 }, (_, i) => ({ t: (i + 1) * 10, rssMb: 100 + i, fps: 50 }));
  const l = rssGrowth(leaking, 0, 0.2);
  assert.equal(l.baselineMb, 105, "lower median of 100..111");
  assert.equal(l.endMb, 153, "lower median of 148..159");
  assert.ok(Math.abs(l.growthPct - ((153 - 105) / 105) * 100) < 1e-9);
  assert.ok(Number.isNaN(rssGrowth([{ t: 1, rssMb: 1, fps: 1 }], 0).growthPct), 'not enough samples');
});

test('frameTimeOf: the classification payload\'s frameTime in ms, without parsing the scores', () => {
  const payload = JSON.stringify({ label: 'cat', scores: { a: 0.1, frameTime: 3 }, frameTime: '2024-05-01T12:00:00.123Z' });
  assert.equal(frameTimeOf(payload), Date.parse('2024-05-01T12:00:00.123Z'));
  assert.equal(frameTimeOf('{"label":"cat"}'), undefined);
  assert.equal(frameTimeOf('{"frameTime":"not a date"}'), undefined);
});

test('uniqueMsClock: strictly increasing readings even when the base clock repeats or steps back', () => {
  const readings = [1000, 1000, 1000, 999, 1005, 1005];
  let i = 0;
  const clock = uniqueMsClock({ ...systemClock, now: () => readings[i++]! });
  assert.deepEqual(readings.map(() => clock.now()), [1000, 1001, 1002, 1003, 1005, 1006]);
});
