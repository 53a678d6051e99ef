import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';

/**
 * Per-frame problems can repeat at frame rate (a camera sending corrupt JPEGs); one line per
 * interval with the number of suppressed repeats keeps the journal readable.
 */
export class RateLimitedLog {
  private lastAt: number | undefined;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 10_000,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = this.clock.now();
    if (this.lastAt !== undefined && now - this.lastAt < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    const suppressed = this.suppressed;
    this.lastAt = now;
    this.suppressed = 0;
    this.logger.warn(suppressed ? { ...fields, suppressed } : fields, suppressed ? `${message} (${suppressed} similar suppressed)` : message);
  }
}
