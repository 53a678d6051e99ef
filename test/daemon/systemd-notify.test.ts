import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../src/logger.js';
import { SystemdNotifier } from '../../src/daemon/systemd-notify.js';
import { FakeClock } from '../fakes/clock.js';

/**
 * The notifier against the real systemd-notify binary. Node cannot receive unix datagrams either, so a few
 * lines of Python stand in for systemd's end of $NOTIFY_SOCKET and print what arrives.
 */
const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data = s.recv(4096).decode()
    if data != "BARRIER=1":
        print(data.replace("\\n", "|"), flush=True)
`;

test('READY=1 with MAINPID, WATCHDOG=1 at half of WatchdogSec, STOPPING=1; nothing at all without NOTIFY_SOCKET', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-notify-'));
  const socketPath = join(dir, 'notify.sock');
  const listener = spawn('/usr/bin/python3', ['-c', LISTENER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: listener.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => (await lines.next()).value as string;
  try {
    assert.equal(await nextLine(), 'listening');
    const clock = new FakeClock();
    const env = { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '20000000', PATH: process.env.PATH };
    const notifier = new SystemdNotifier({ logger: silentLogger(), clock, spawn, env, pid: 4242 });
    assert.equal(notifier.watchdogIntervalMs, 10_000);
    await notifier.ready('serving edgecam/door');
    assert.equal(await nextLine(), 'READY=1|MAINPID=4242|STATUS=serving edgecam/door');
    clock.advance(10_000);
    assert.equal(await nextLine(), 'MAINPID=4242|WATCHDOG=1');
    await notifier.stopping();
    assert.equal(await nextLine(), 'MAINPID=4242|STOPPING=1');
    assert.equal(clock.pending, 0, 'watchdog timer cleared');

    let spawned = 0;
    const off = new SystemdNotifier({ logger: silentLogger(), clock, spawn: (...a) => { spawned++; return spawn(...a); }, env: {}, pid: 1 });
    assert.equal(await off.notify('READY=1'), false);
    assert.equal(off.watchdogIntervalMs, undefined);
    assert.equal(spawned, 0);
    const otherPid = new SystemdNotifier({ logger: silentLogger(), clock, spawn, env: { ...env, WATCHDOG_PID: '7' }, pid: 4242 });
    assert.equal(otherPid.watchdogIntervalMs, undefined, 'watchdog meant for another process');
  } finally {
    listener.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
