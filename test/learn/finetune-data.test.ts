import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classHoldout, holdoutKey, isHeldOut } from '../../src/learn/finetune-data.js';

const SHARE = 0.2;
const ids = Array.from({ length: 400 }, (_, i) => `20240101-000000-000-${String(i).padStart(6, '0')}`);
const under = ids.filter((id) => isHeldOut(id, SHARE));
const over = ids.filter((id) => !isHeldOut(id, SHARE));

test('the holdout never takes all of a class: of frames that all hash into it, the highest key trains', () => {
  assert.deepEqual([...classHoldout(under.slice(0, 1), SHARE)], [], 'a single frame trains');
  const three = under.slice(0, 3);
  const held = classHoldout(three, SHARE);
  const highest = [...three].sort((a, b) => holdoutKey(b) - holdoutKey(a))[0]!;
  assert.deepEqual([...held].sort(), three.filter((id) => id !== highest).sort());
});

test('a class of two or more frames has a held-back frame even when none hashes into the holdout: the lowest key', () => {
  const four = over.slice(0, 4);
  const lowest = [...four].sort((a, b) => holdoutKey(a) - holdoutKey(b))[0]!;
  assert.deepEqual([...classHoldout(four, SHARE)], [lowest]);
  assert.deepEqual([...classHoldout(over.slice(0, 1), SHARE)], [], 'one frame: it trains, nothing to hold back');
  for (const pair of [[under[0]!, under[1]!], [over[0]!, over[1]!], [under[0]!, over[0]!]]) {
    assert.equal(classHoldout(pair, SHARE).size, 1, `two frames: one each side (${pair.join(', ')})`);
  }
});

/** Adds the frames one by one; returns every change of side of an already labelled frame. */
function movesWhileLabelling(arrivals: string[]): { id: string; step: number; wasException: boolean; natural: boolean }[] {
  const moves: { id: string; step: number; wasException: boolean; natural: boolean }[] = [];
  let before = new Set<string>();
  for (let n = 1; n <= arrivals.length; n++) {
    const now = classHoldout(arrivals.slice(0, n), SHARE);
    const sides = new Set(arrivals.slice(0, n).map((id) => isHeldOut(id, SHARE)));
    if (sides.size === 2) {
      // Both sides have a frame by hash: every frame sits where its hash puts it.
      assert.deepEqual([...now].sort(), arrivals.slice(0, n).filter((id) => isHeldOut(id, SHARE)).sort(), `after ${n}`);
    }
    for (const id of arrivals.slice(0, n - 1)) {
      if (before.has(id) !== now.has(id)) moves.push({ id, step: n, wasException: before.has(id) !== isHeldOut(id, SHARE), natural: now.has(id) === isHeldOut(id, SHARE) });
    }
    before = now;
  }
  return moves;
}

test('labelling more frames moves no frame, except one the tiny-class rule had put on the other side of its hash', () => {
  for (const arrivals of [
    [...over.slice(0, 5), under[0]!, ...ids.slice(200, 260)], // held-back exceptions first
    [...under.slice(0, 5), over[0]!, ...ids.slice(200, 260)], // training exceptions first
  ]) {
    const moves = movesWhileLabelling(arrivals);
    assert.ok(moves.length >= 1, 'the rule did act (and was undone)');
    for (const m of moves) assert.ok(m.wasException && m.natural, `${m.id} moved at step ${m.step} although the rule had not placed it`);
    const firstBoth = arrivals.findIndex((id) => isHeldOut(id, SHARE) !== isHeldOut(arrivals[0]!, SHARE)) + 1;
    assert.ok(moves.every((m) => m.step <= firstBoth), 'once a class has frames on both sides by hash, nothing moves');
  }
});
