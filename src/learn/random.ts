/**
 * Seeded pseudo-random numbers (mulberry32), so `--seed` makes splits, shuffles and augmentation
 * repeatable. Math.random is never used in learn/: a run must be reproducible from its command line.
 */
import { mulberry32 } from '../random.js';

export type Rng = () => number;

export function createRng(seed: number): Rng {
  return mulberry32((Math.floor(seed) >>> 0) || 0x9e3779b9);
}

/** Fisher-Yates shuffle in place; returns the same array for chaining. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Uniform number in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}
