import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { silentLogger } from '../../src/logger.js';
import type { Frame } from '../../src/types.js';
import type { CameraStatus, CaptureEvents, CaptureSource } from '../../src/capture/source.js';
import { Watchdog } from '../../src/capture/watchdog.js';
import { FakeClock, flush } from './fake-clock.js';

/** A controllable source: the test decides when it produces, fails, or ends. */
class ScriptedSource extends EventEmitter<CaptureEvents> implements CaptureSource {
  readonly description = 'scripted';
  started = 0;
  stopped = 0;
  constructor(private readonly startError?: Error) { super(); }
  async start(): Promise<void> {
    this.started += 1;
    if (this.startError) throw this.startError;
  }
  async stop(): Promise<void> { this.stopped += 1; }
  produce(seq = 0): void { this.emit('frame', { data: Buffer.from([1]), timestamp: 0, seq } satisfies Frame); }
}

function setup(options: ConstructorParameters<typeof Watchdog>[2] = {}, startErrors: Array<Error | undefined> = []) {
  const clock = new FakeClock();
  const sources: ScriptedSource[] = [];
  const statuses: CameraStatus[] = [];
  const frames: Frame[] = [];
  const watchdog = new Watchdog({ logger: silentLogger(), clock }, () => {
    const s = new ScriptedSource(startErrors[sources.length]);
    sources.push(s);
    return s;
  }, options);
  watchdog.on('status', (s) => statuses.push(s));
  watchdog.on('frame', (f) => frames.push(f));
  const last = () => sources[sources.length - 1]!;
  return { clock, sources, statuses, frames, watchdog, last };
}

test('starting → online on the first frame; frames are passed through', async () => {
  const { watchdog, statuses, frames, last } = setup();
  await watchdog.start();
  last().produce();
  assert.deepEqual(statuses, ['starting', 'online']);
  assert.equal(frames.length, 1);
  await watchdog.stop();
});

test('a source silent for stallTimeout is reported stalled exactly then, and restarted after the backoff', async () => {
  const { clock, watchdog, statuses, sources, last } = setup({ stallTimeoutMs: 5000, backoffInitialMs: 500 });
  await watchdog.start();
  last().produce();
  await clock.advance(3000);
  last().produce(); // keeps it alive: the stall clock restarts from here
  await clock.advance(4999);
  assert.equal(statuses.at(-1), 'online');
  await clock.advance(1);
  assert.equal(statuses.at(-1), 'stalled');
  assert.equal(sources[0]!.stopped, 1, 'the stalled source is stopped');
  await clock.advance(499);
  assert.equal(sources.length, 1, 'waits for the backoff');
  await clock.advance(1);
  assert.equal(sources.length, 2);
  assert.deepEqual(statuses, ['starting', 'online', 'stalled', 'restarting']);
  last().produce();
  assert.equal(statuses.at(-1), 'online');
  assert.equal(watchdog.restarts, 1);
  await watchdog.stop();
});

test('a source that never delivers a first frame is stalled too', async () => {
  const { clock, watchdog, statuses } = setup({ stallTimeoutMs: 2000 });
  await watchdog.start();
  await clock.advance(2000);
  assert.deepEqual(statuses, ['starting', 'stalled']);
  await watchdog.stop();
});

test('errors restart with exponential backoff capped at backoffMax', async () => {
  const { clock, watchdog, statuses, sources, last } = setup({ backoffInitialMs: 500, backoffMaxMs: 4000, stallTimeoutMs: 60_000 });
  const errors: Error[] = [];
  watchdog.on('error', (e) => errors.push(e));
  await watchdog.start();
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const before = sources.length;
    last().emit('error', new Error(`boom ${i}`));
    assert.equal(statuses.at(-1), 'offline');
    let waited = 0;
    while (sources.length === before) { await clock.advance(100); waited += 100; }
    delays.push(waited);
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 4000, 4000]);
  assert.equal(errors.length, 6);
  assert.equal(watchdog.lastError?.message, 'boom 5');
  assert.ok(sources.slice(0, -1).every((s) => s.stopped === 1), 'every failed source was stopped');
  await watchdog.stop();
});

test('the backoff starts again from the beginning after a healthy period', async () => {
  const { clock, watchdog, sources, last } = setup({ backoffInitialMs: 500, healthyAfterMs: 10_000, stallTimeoutMs: 60_000 });
  await watchdog.start();
  last().emit('error', new Error('1'));
  await clock.advance(500);
  last().emit('error', new Error('2'));
  await clock.advance(1000);
  assert.equal(sources.length, 3);
  assert.equal(watchdog.nextDelayMs(), 2000);
  last().produce();
  await clock.advance(10_000);
  last().produce();
  assert.equal(watchdog.nextDelayMs(), 500);
  await watchdog.stop();
});

test('start() failures and factory exceptions are retried, never thrown', async () => {
  const { clock, watchdog, statuses, sources, last } = setup({ backoffInitialMs: 100 }, [new Error('no device'), new Error('still none')]);
  await watchdog.start(); // resolves although the source failed
  assert.deepEqual(statuses, ['starting', 'offline']);
  await clock.advance(100);
  await clock.advance(200);
  assert.equal(sources.length, 3);
  last().produce();
  assert.equal(statuses.at(-1), 'online');
  await watchdog.stop();

  const clock2 = new FakeClock();
  let calls = 0;
  const w = new Watchdog({ logger: silentLogger(), clock: clock2 }, () => {
    calls += 1;
    if (calls === 1) throw new Error('factory broke');
    return new ScriptedSource();
  }, { backoffInitialMs: 100 });
  await w.start();
  assert.equal(w.status, 'offline');
  await clock2.advance(100);
  assert.equal(calls, 2);
  await w.stop();
});

test('stop() stops the source, leaves no timer, is safe twice, and ignores late events', async () => {
  const { clock, watchdog, statuses, last, frames } = setup();
  await watchdog.start();
  const source = last();
  source.produce();
  await watchdog.stop();
  await watchdog.stop();
  assert.equal(source.stopped, 1);
  assert.equal(clock.pending(), 0);
  assert.equal(statuses.at(-1), 'offline');
  source.produce();
  source.emit('error', new Error('late')); // must not throw although listeners were removed
  assert.equal(frames.length, 1);
  await clock.advance(60_000);
  assert.equal(clock.pending(), 0);
});

test('stop() during a backoff wait cancels the restart', async () => {
  const { clock, watchdog, sources, last } = setup({ backoffInitialMs: 1000 });
  await watchdog.start();
  last().emit('error', new Error('gone'));
  await watchdog.stop();
  await clock.advance(5000);
  assert.equal(sources.length, 1);
  assert.equal(clock.pending(), 0);
});

test("'end' (folder replay once) is final: offline, 'end' forwarded, no restart", async () => {
  const { clock, watchdog, statuses, sources, last } = setup();
  let ended = false;
  watchdog.on('end', () => { ended = true; });
  await watchdog.start();
  last().produce();
  last().emit('end');
  await flush();
  assert.ok(ended);
  assert.equal(statuses.at(-1), 'offline');
  await clock.advance(60_000);
  assert.equal(sources.length, 1);
  assert.equal(clock.pending(), 0);
});

test('sequence numbers stay monotonic across restarts; no error listener is needed', async () => {
  const { clock, watchdog, frames, last } = setup({ backoffInitialMs: 10 });
  await watchdog.start();
  last().produce(0);
  last().produce(1);
  last().emit('error', new Error('x')); // nobody listens for 'error' on the watchdog: must not throw
  await clock.advance(10);
  last().produce(0);
  assert.deepEqual(frames.map((f) => f.seq), [0, 1, 2]);
  await watchdog.stop();
});
