/** Frame counters the pipeline keeps; published in stats and /metrics. Monotonic for the process lifetime. */
export interface PipelineCounters {
  /** Frames handed to the pipeline. */
  captured: number;
  /** Frames that went through the model and produced a result. */
  classified: number;
  /** Frames replaced by a newer one before they were processed (backpressure). */
  dropped: number;
  /** Frames that could not be processed (corrupt image, model error). */
  failed: number;
}

export function emptyCounters(): PipelineCounters {
  return { captured: 0, classified: 0, dropped: 0, failed: 0 };
}

/**
 * The last `capacity` samples of a duration, for p50/p99 without keeping history forever
 * (a daemon that runs for months must not grow).
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;

  constructor(readonly capacity = 512) {
    this.samples = new Float64Array(capacity);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Nearest-rank percentile (p in 0..100) of the samples held; undefined when empty. */
  percentile(p: number): number | undefined {
    if (this.count === 0) return undefined;
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    return sorted[rank - 1];
  }
}

/** Frames per second between two readings of a monotonic counter. */
export class RateMeter {
  private lastCount = 0;
  private lastAt: number | undefined;

  /** Rate since the previous call (0 on the first call). */
  sample(count: number, nowMs: number): number {
    const rate = this.lastAt === undefined || nowMs <= this.lastAt ? 0 : ((count - this.lastCount) * 1000) / (nowMs - this.lastAt);
    this.lastCount = count;
    this.lastAt = nowMs;
    return rate;
  }
}
