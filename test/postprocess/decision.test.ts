import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decisionOptionsSchema,
  initialDecisionState,
  stepDecision,
  type Decision,
  type DecisionOptionsInput,
} from '../../src/postprocess/decision.js';
import { EdgecamError } from '../../src/errors.js';

const LABELS = ['cat', 'dog', 'none'];

/** `cat:0.9` → scores where cat has 0.9 and the rest share what is left. */
function frame(spec: string): { labels: string[]; probabilities: number[] } {
  const [label, value] = spec.split(':');
  const p = Number(value);
  const rest = (1 - p) / (LABELS.length - 1);
  return { labels: LABELS, probabilities: LABELS.map((l) => (l === label ? p : rest)) };
}

/** Runs a sequence of frames `ms` apart and returns every decision. */
function run(specs: string[], options: DecisionOptionsInput, ms = 100): Decision[] {
  const opts = decisionOptionsSchema.parse(options);
  let state = initialDecisionState();
  const out: Decision[] = [];
  specs.forEach((spec, i) => {
    const step = stepDecision(state, frame(spec), i * ms, opts);
    state = step.state;
    out.push(step.decision);
  });
  return out;
}

const stableLabels = (ds: Decision[]) => ds.map((d) => d.stableLabel);

test('a single confident frame with no smoothing or dwell becomes stable at once', () => {
  const [d] = run(['cat:0.95'], { smoothing: { method: 'ema', alpha: 1 }, minDwellMs: 0 });
  assert.equal(d!.label, 'cat');
  assert.equal(d!.stableLabel, 'cat');
  assert.equal(d!.changed, true);
  assert.equal(d!.previous, 'unknown');
  assert.ok(Math.abs(d!.stableConfidence - 0.95) < 1e-9);
  assert.deepEqual(Object.keys(d!.smoothed).sort(), ['cat', 'dog', 'none']);
});

test('per-frame label is unknown below minConfidence, and nothing becomes stable', () => {
  const ds = run(['cat:0.4', 'dog:0.45', 'cat:0.4', 'cat:0.4'], { minConfidence: 0.5, smoothing: { method: 'ema', alpha: 1 }, minDwellMs: 0 });
  assert.deepEqual(ds.map((d) => d.label), ['unknown', 'unknown', 'unknown', 'unknown']);
  assert.deepEqual(stableLabels(ds), ['unknown', 'unknown', 'unknown', 'unknown']);
  assert.ok(ds.every((d) => !d.changed));
  assert.equal(ds[0]!.confidence, 0.4);
});

test('vote smoothing suppresses a one-frame flicker', () => {
  const opts = { smoothing: { method: 'vote', window: 5, required: 3 }, hysteresis: { enter: 0.6, exit: 0.4 }, minDwellMs: 0 } as const;
  const ds = run(['none:0.9', 'none:0.9', 'none:0.9', 'cat:0.9', 'none:0.9', 'none:0.9', 'cat:0.9', 'none:0.9'], opts);
  // `none` needs 3 agreeing votes before it becomes stable; the stray cats never get there.
  assert.deepEqual(stableLabels(ds), ['unknown', 'unknown', 'none', 'none', 'none', 'none', 'none', 'none']);
  assert.equal(ds.filter((d) => d.changed).length, 1);
});

test('vote needs N of M agreeing frames even when the mean is high', () => {
  const opts = { smoothing: { method: 'vote', window: 4, required: 3 }, hysteresis: { enter: 0.3, exit: 0.2 }, minDwellMs: 0 } as const;
  const ds = run(['cat:0.9', 'dog:0.9', 'cat:0.9', 'dog:0.9', 'cat:0.9'], opts);
  // cat's mean over the window passes enter (0.3), but no window of 4 ever holds 3 agreeing votes.
  assert.deepEqual(stableLabels(ds), ['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
});

test('minimum dwell: a candidate must hold for minDwellMs before it becomes stable', () => {
  const opts = { smoothing: { method: 'ema', alpha: 1 }, hysteresis: { enter: 0.7, exit: 0.5 }, minDwellMs: 300 } as const;
  // frames 100 ms apart: cat candidate since t=0, stable at t=300 (4th frame).
  const ds = run(['cat:0.9', 'cat:0.9', 'cat:0.9', 'cat:0.9', 'cat:0.9'], opts);
  assert.deepEqual(stableLabels(ds), ['unknown', 'unknown', 'unknown', 'cat', 'cat']);
  assert.deepEqual(ds.map((d) => d.changed), [false, false, false, true, false]);
});

test('dwell restarts when the candidate changes', () => {
  const opts = { smoothing: { method: 'ema', alpha: 1 }, hysteresis: { enter: 0.7, exit: 0.5 }, minDwellMs: 200 } as const;
  const ds = run(['cat:0.9', 'cat:0.9', 'dog:0.9', 'dog:0.9', 'dog:0.9'], opts);
  // cat never held 200 ms; dog candidate from t=200, stable at t=400.
  assert.deepEqual(stableLabels(ds), ['unknown', 'unknown', 'unknown', 'unknown', 'dog']);
});

test('hysteresis: the stable label is kept while above exit, even when it drops below enter', () => {
  const opts = { smoothing: { method: 'ema', alpha: 1 }, hysteresis: { enter: 0.8, exit: 0.5 }, minDwellMs: 0 } as const;
  const ds = run(['cat:0.9', 'cat:0.6', 'cat:0.55', 'cat:0.75', 'cat:0.45', 'dog:0.9'], opts);
  assert.deepEqual(stableLabels(ds), ['cat', 'cat', 'cat', 'cat', 'unknown', 'dog']);
  assert.equal(ds[4]!.previous, 'cat');
  assert.equal(ds[4]!.stableConfidence, 0);
  assert.equal(ds[5]!.previous, 'unknown');
});

test('a stable label falling below exit is kept until the replacement has dwelled', () => {
  const opts = { smoothing: { method: 'ema', alpha: 1 }, hysteresis: { enter: 0.7, exit: 0.5 }, minDwellMs: 200 } as const;
  const ds = run(['cat:0.9', 'cat:0.9', 'cat:0.9', 'dog:0.9', 'cat:0.9', 'dog:0.9', 'dog:0.9', 'dog:0.9'], opts);
  // cat stable at t=200; a single dog frame does not flip it; from t=500 dog holds and wins at t=700.
  assert.deepEqual(stableLabels(ds), ['unknown', 'unknown', 'cat', 'cat', 'cat', 'cat', 'cat', 'dog']);
  assert.equal(ds.filter((d) => d.changed).length, 2);
});

test('EMA and vote differ on the same sequence', () => {
  const seq = ['none:0.9', 'none:0.9', 'none:0.9', 'cat:0.95', 'cat:0.95', 'cat:0.95'];
  const ema = run(seq, { smoothing: { method: 'ema', alpha: 0.5 }, hysteresis: { enter: 0.7, exit: 0.5 }, minDwellMs: 0 });
  const vote = run(seq, { smoothing: { method: 'vote', window: 3, required: 2 }, hysteresis: { enter: 0.7, exit: 0.5 }, minDwellMs: 0 });
  // EMA(0.5): the first frame is taken as is, so none is stable at once; at frame 4 none falls to .4625 (< exit)
  // while cat is only at .5 (< enter) → unknown; at frame 5 cat reaches .725.
  assert.deepEqual(stableLabels(ema), ['none', 'none', 'none', 'unknown', 'cat', 'cat']);
  assert.ok(Math.abs(ema[4]!.smoothed.cat! - 0.725) < 1e-9);
  // Vote(2 of 3): none needs 2 votes (frame 2); cat has 2 votes at frame 5 but its mean is (.05+.95+.95)/3=.65 < .7,
  // and none's mean .3667 < exit; so unknown at frame 5, cat at frame 6.
  assert.deepEqual(stableLabels(vote), ['unknown', 'none', 'none', 'none', 'unknown', 'cat']);
});

test('per-class threshold overrides enter for that class only', () => {
  const opts = { smoothing: { method: 'ema', alpha: 1 }, hysteresis: { enter: 0.7, exit: 0.5 }, thresholds: { cat: 0.95 }, minDwellMs: 0 } as const;
  assert.deepEqual(stableLabels(run(['cat:0.9', 'cat:0.96'], opts)), ['unknown', 'cat']);
  assert.deepEqual(stableLabels(run(['dog:0.9'], opts)), ['dog']);
});

test('state is not mutated, so replaying a step gives the same answer', () => {
  const opts = decisionOptionsSchema.parse({ smoothing: { method: 'vote', window: 3, required: 1 }, minDwellMs: 0 });
  const s0 = initialDecisionState();
  const a = stepDecision(s0, frame('cat:0.9'), 0, opts);
  const b = stepDecision(s0, frame('cat:0.9'), 0, opts);
  assert.deepEqual(a, b);
  assert.deepEqual(s0, initialDecisionState());
});

test('NaN probabilities count as 0; mismatched labels throw a coded error', () => {
  const opts = decisionOptionsSchema.parse({ smoothing: { method: 'ema', alpha: 0.5 }, minDwellMs: 0 });
  const step = stepDecision(initialDecisionState(), { labels: ['cat', 'dog'], probabilities: [Number.NaN, 0.9] }, 0, opts);
  assert.equal(step.decision.smoothed.cat, 0);
  assert.equal(step.decision.label, 'dog');
  assert.throws(
    () => stepDecision(initialDecisionState(), { labels: ['cat'], probabilities: [0.5, 0.5] }, 0, opts),
    (e: unknown) => e instanceof EdgecamError && e.code === 'DECISION_BAD_SCORES',
  );
});

test('options schema rejects impossible settings', () => {
  assert.equal(decisionOptionsSchema.safeParse({ hysteresis: { enter: 0.4, exit: 0.6 } }).success, false);
  assert.equal(decisionOptionsSchema.safeParse({ smoothing: { method: 'vote', window: 2, required: 3 } }).success, false);
  assert.equal(decisionOptionsSchema.safeParse({ smoothing: { method: 'ema', alpha: 0 } }).success, false);
  const defaults = decisionOptionsSchema.parse({});
  assert.equal(defaults.minDwellMs, 1000);
  assert.equal(defaults.smoothing.method, 'vote');
});

test('a changed label list (model swap) keeps each label its own history, by name', () => {
  const opts = decisionOptionsSchema.parse({ smoothing: { method: 'ema', alpha: 0.5 }, minDwellMs: 0 });
  const first = stepDecision(initialDecisionState(), { labels: ['cat', 'dog', 'none'], probabilities: [0.9, 0.05, 0.05] }, 0, opts);
  const second = stepDecision(first.state, { labels: ['dog', 'cat', 'bird'], probabilities: [0.8, 0.1, 0.1] }, 100, opts);
  assert.ok(Math.abs(second.decision.smoothed.dog! - 0.425) < 1e-9);
  assert.ok(Math.abs(second.decision.smoothed.cat! - 0.5) < 1e-9);
  // bird has no history yet: taken as is, like the first frame.
  assert.ok(Math.abs(second.decision.smoothed.bird! - 0.1) < 1e-9);
  assert.deepEqual(Object.keys(second.decision.smoothed), ['dog', 'cat', 'bird']);

  const vote = decisionOptionsSchema.parse({ smoothing: { method: 'vote', window: 3, required: 1 }, minDwellMs: 0 });
  const v1 = stepDecision(initialDecisionState(), { labels: ['cat', 'dog'], probabilities: [0.9, 0.1] }, 0, vote);
  const v2 = stepDecision(v1.state, { labels: ['dog', 'bird'], probabilities: [0.2, 0.8] }, 100, vote);
  // Mean over both frames; bird was absent from the first one and counts 0 there.
  assert.ok(Math.abs(v2.decision.smoothed.dog! - 0.15) < 1e-9);
  assert.ok(Math.abs(v2.decision.smoothed.bird! - 0.4) < 1e-9);
});

test('1000 classes: smoothed scores equal a per-label reference mean/EMA over a random sequence', () => {
  const labels = Array.from({ length: 1000 }, (_, i) => `class ${i}`);
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const frames = Array.from({ length: 12 }, () => {
    const raw = labels.map(() => random() ** 6);
    const sum = raw.reduce((a, b) => a + b, 0);
    return { labels, probabilities: raw.map((p) => p / sum) };
  });
  for (const smoothing of [{ method: 'vote', window: 4, required: 2 }, { method: 'ema', alpha: 0.3 }] as const) {
    const opts = decisionOptionsSchema.parse({ smoothing, minConfidence: 0.001, hysteresis: { enter: 0.002, exit: 0.001 }, minDwellMs: 0 });
    let state = initialDecisionState();
    let ema: number[] | undefined;
    frames.forEach((f, n) => {
      const step = stepDecision(state, f, n * 100, opts);
      state = step.state;
      ema = ema ? f.probabilities.map((p, i) => 0.3 * p + 0.7 * ema![i]!) : [...f.probabilities];
      const recent = frames.slice(Math.max(0, n - 3), n + 1);
      labels.forEach((label, i) => {
        const expected = smoothing.method === 'ema' ? ema![i]! : recent.reduce((s, r) => s + r.probabilities[i]!, 0) / recent.length;
        assert.ok(Math.abs(step.decision.smoothed[label]! - expected) < 1e-12, `${smoothing.method} frame ${n} ${label}`);
      });
      const top = f.probabilities.indexOf(Math.max(...f.probabilities));
      assert.equal(step.decision.label, labels[top]);
    });
  }
});
