import type { Clock } from '../../src/types.js';

type Handle = number;

/** A Clock whose time only moves when a test calls advance(); timers fire in time order. */
export class FakeClock implements Clock {
  private time = 1_700_000_000_000;
  private nextId = 1;
  private readonly timers = new Map<Handle, { at: number; fn: () => void; every?: number }>();

  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): Handle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: NodeJS.Timeout | number | undefined): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }
  setInterval(fn: () => void, ms: number): Handle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn, every: Math.max(1, ms) });
    return id;
  }
  clearInterval(handle: NodeJS.Timeout | number | undefined): void {
    this.clearTimeout(handle);
  }
  /** Timers still scheduled (a stopped component must leave none). */
  pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promise callbacks run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await flush();
    for (;;) {
      let nextId: Handle | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) if (t.at < nextAt || (t.at === nextAt && nextId !== undefined && id < nextId)) { nextAt = t.at; nextId = id; }
      if (nextId === undefined || nextAt > end) break;
      const timer = this.timers.get(nextId)!;
      this.time = Math.max(this.time, timer.at);
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(nextId);
      timer.fn();
      await flush();
    }
    this.time = end;
    await flush();
  }
}

/** Lets pending promise callbacks and I/O completions run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
