import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isProcessGone, lavfiInput } from '../fakes/ffmpeg.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { Recorder, waitUntil, writeColourModel } from './fixtures.js';

/**
 * `edgecam run` as a real process reading a real ffmpeg source (a live lavfi test pattern), against a real mosquitto.
 * The capture ffmpeg the daemon spawned is SIGKILLed mid-stream, as when a camera driver or a USB hub dies: the camera
 * topic must say so, the watchdog must start a new ffmpeg, classification must resume, and the daemon must not exit.
 * Then SIGTERM: offline published, exit 0, and no ffmpeg left behind.
 */

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
let broker: MosquittoBroker;
let work: string;
before(async () => {
  broker = await startMosquitto();
  work = await mkdtemp(join(tmpdir(), 'edgecam-camkill-'));
});
after(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

/** PIDs of the live ffmpeg processes whose parent is `parent` (read from /proc, like ps does). */
async function ffmpegChildren(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command name: state, ppid, …
    const match = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat);
    if (match && match[1] === 'ffmpeg' && match[2] !== 'Z' && Number(match[3]) === parent) pids.push(Number(entry));
  }
  return pids;
}

test('ffmpeg source: its ffmpeg killed mid-stream → camera status published, restarted, classifying again; SIGTERM leaves no ffmpeg', { timeout: 90_000 }, async () => {
  const modelDir = join(work, 'model');
  await writeColourModel(modelDir, ['red', 'green', 'blue']);
  const rec = await Recorder.connect(broker.url, ['kill/#']);
  const child = spawn(process.execPath, [CLI, 'run', '--source', `ffmpeg:${lavfiInput({ fps: 5, size: '160x120' })}`, '--fps', '5', '--model', modelDir,
    '--mqtt-url', broker.url, '--base-topic', 'kill', '--camera-id', 'cam', '--http-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, NOTIFY_SOCKET: '', EDGECAM_MODEL_PROVIDERS: 'cpu', EDGECAM_MODEL_WATCH: 'false', EDGECAM_MQTT_DISCOVERY_ENABLED: 'false',
      EDGECAM_DECISION_WINDOW: '1', EDGECAM_DECISION_VOTES: '1', EDGECAM_DECISION_MIN_DWELL_MS: '0', EDGECAM_CAMERA_STALL_TIMEOUT: '2',
    },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const classifications = (from: number) => rec.messages.slice(from).filter((m) => m.topic === 'kill/cam/classification').length;
  try {
    await rec.next(rec.on('kill/status', 'online'), 30_000);
    await rec.next(rec.on('kill/cam/camera', 'online'), 30_000);
    await waitUntil(() => classifications(0) >= 3, 30_000, 'three classifications from the live ffmpeg stream');

    let first: number[] = [];
    await waitUntil(async () => (first = await ffmpegChildren(child.pid!)).length === 1, 10_000, 'one capture ffmpeg running under the daemon');
    const mark = rec.messages.length;
    process.kill(first[0], 'SIGKILL');

    const problem = await rec.next((m) => m.topic === 'kill/cam/camera' && m.payload.toString() !== 'online', 15_000, mark);
    assert.match(problem.payload.toString(), /^(offline|stalled|restarting)$/);
    await rec.next(rec.on('kill/cam/camera', 'online'), 30_000, mark);
    const afterRestart = rec.messages.length;
    await waitUntil(() => classifications(afterRestart) >= 3, 30_000, 'classifications again after the restart');
    const second = await ffmpegChildren(child.pid!);
    assert.equal(second.length, 1, `exactly one capture ffmpeg after the restart, got ${second.join(',')}`);
    assert.notEqual(second[0], first[0], 'a new ffmpeg was started');
    assert.ok(isProcessGone(first[0]), 'the killed ffmpeg was reaped');
    assert.equal(child.exitCode, null, `the daemon is still running:\n${output}`);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    // Checked at once: the daemon waits for its ffmpeg to exit before it exits itself. An orphan would only die later,
    // at its next write into the closed pipe.
    assert.ok(isProcessGone(second[0]), 'the capture ffmpeg was stopped before the daemon exited');
    await rec.next(rec.on('kill/status', 'offline'), 5000, afterRestart);
  } finally {
    child.kill('SIGKILL');
    await rec.close();
  }
});
