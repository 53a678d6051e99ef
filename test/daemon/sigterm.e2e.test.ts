import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { Recorder, solidJpeg, writeColourModel, writeImages } from './fixtures.js';

/** `edgecam run` as a real process: SIGTERM publishes offline, closes everything and exits 0; SIGHUP reloads. */

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
let broker: MosquittoBroker;
let work: string;
before(async () => {
  broker = await startMosquitto();
  work = await mkdtemp(join(tmpdir(), 'edgecam-sigterm-'));
});
after(async () => {
  await broker?.stop();
  await rm(work, { recursive: true, force: true });
});

function runEdgecam(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '', ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

test('SIGTERM: offline is published, the process exits 0; SIGHUP reloads the model', async () => {
  const images = join(work, 'camera');
  const modelDir = join(work, 'model');
  await writeImages(images, { 'a.jpg': await solidJpeg(10, 240, 10) });
  await writeColourModel(modelDir, ['red', 'green', 'blue']);
  const rec = await Recorder.connect(broker.url, ['sig/#']);
  const run = runEdgecam(['--source', `folder:${images}`, '--fps', '5', '--model', modelDir, '--mqtt-url', broker.url, '--base-topic', 'sig', '--camera-id', 'cam1', '--http-port', '0'],
    { EDGECAM_DECISION_WINDOW: '1', EDGECAM_DECISION_VOTES: '1', EDGECAM_DECISION_MIN_DWELL_MS: '0', EDGECAM_MODEL_PROVIDERS: 'cpu', EDGECAM_MODEL_WATCH: 'false' });
  try {
    await rec.next(rec.on('sig/status', 'online'));
    await rec.next(rec.on('sig/cam1/state', 'green'));

    const mark = rec.messages.length;
    await writeColourModel(modelDir, ['a', 'b', 'c'], '2'); // not watched: only SIGHUP makes it load
    run.child.kill('SIGHUP');
    await rec.next(rec.on('sig/cam1/state', 'b'), 15_000, mark);

    run.child.kill('SIGTERM');
    const code = await run.exited;
    assert.equal(code, 0, run.output());
    const offline = await rec.next(rec.on('sig/status', 'offline'), 5000, mark);
    assert.equal(offline.payload.toString(), 'offline');
    assert.match(run.output(), /stopping edgecam/);
    assert.match(run.output(), /edgecam stopped/);
  } finally {
    run.child.kill('SIGKILL');
    await rec.close();
  }
  const late = await Recorder.connect(broker.url, ['sig/status']);
  const retained = await late.next(late.on('sig/status'));
  assert.deepEqual([retained.payload.toString(), retained.retain], ['offline', true]);
  await late.close();
});

test('bad flags: every problem reported at once, exit code 1, nothing started', async () => {
  const run = runEdgecam(['--source', 'usb0', '--fps', 'fast', '--mqtt-url', 'localhost']);
  assert.equal(await run.exited, 1);
  const out = run.output();
  assert.match(out, /camera\.source \(from flag --source\)/);
  assert.match(out, /camera\.fps \(from flag --fps\)/);
  assert.match(out, /mqtt\.url \(from flag --mqtt-url\)/);
  assert.match(out, /\[CONFIG_INVALID\]/);
});

test('a model folder that does not exist: clear error, exit code 1', async () => {
  const images = join(work, 'camera-m');
  await writeImages(images, { 'a.jpg': await solidJpeg(1, 2, 3) });
  const run = runEdgecam(['--source', `folder:${images}`, '--model', join(work, 'missing-model'), '--mqtt-url', broker.url, '--base-topic', 'nomodel', '--http-port', '0']);
  assert.equal(await run.exited, 1);
  assert.match(run.output(), /does not exist/);
});
