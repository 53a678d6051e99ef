/** Small statistics for bench figures. Pure functions: tested on their own. */

/** Nearest-rank percentile (p in 0..100); NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export const toMb = (bytes: number): number => bytes / 1048576;

/** Rounds for printing and JSON (figures carry noise far above 0.01). */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface RssSample {
  /** Seconds since the measured run began. */
  t: number;
  rssMb: number;
  /** Acknowledged frames per second over the preceding interval. */
  fps: number;
}

/**
 * Growth of steady RSS over a soak run, in percent: median RSS of the last `tailFraction` of samples against the
 * median of the samples in the first steady stretch (after `warmupS`, the next `tailFraction` of the run).
 * Medians, not single samples, so one garbage-collection peak does not read as a leak.
 */
export function rssGrowth(samples: readonly RssSample[], warmupS: number, tailFraction = 0.2): { baselineMb: number; endMb: number; growthPct: number } {
  const steady = samples.filter((s) => s.t >= warmupS);
  if (steady.length < 2) return { baselineMb: Number.NaN, endMb: Number.NaN, growthPct: Number.NaN };
  const n = Math.max(1, Math.floor(steady.length * tailFraction));
  const baselineMb = median(steady.slice(0, n).map((s) => s.rssMb));
  const endMb = median(steady.slice(-n).map((s) => s.rssMb));
  return { baselineMb, endMb, growthPct: ((endMb - baselineMb) / baselineMb) * 100 };
}
