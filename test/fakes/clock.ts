import type { Clock } from '../../src/types.js';

interface Timer { id: number; at: number; fn: () => void; every?: number }

/**
 * A clock the test drives: now() only moves when advance() is called, and timers fire in time order
 * during advance(). Handles are numbers, like the Clock interface allows.
 */
export class FakeClock implements Clock {
  private current: number;
  private timers: Timer[] = [];
  private nextId = 1;

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.nextId++;
    this.timers.push({ id, at: this.current + Math.max(0, ms), fn });
    return id;
  }

  setInterval(fn: () => void, ms: number): number {
    const id = this.nextId++;
    const every = Math.max(1, ms);
    this.timers.push({ id, at: this.current + every, fn, every });
    return id;
  }

  clearTimeout(handle: NodeJS.Timeout | number | undefined): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  clearInterval(handle: NodeJS.Timeout | number | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers still scheduled (tests check nothing is left behind after stop()). */
  get pending(): number {
    return this.timers.length;
  }

  /** Move time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.current = due.at;
      if (due.every) due.at += due.every;
      else this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
    this.current = end;
  }
}
