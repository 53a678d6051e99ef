import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeColourModel } from '../daemon/fixtures.js';

/**
 * `edgecam bench` end to end on a tiny real model: every stage runs (sharp, ONNX Runtime, the daemon in a child
 * process publishing to a private mosquitto, `edgecam run` started for the startup figure) and the JSON line has
 * exactly the keys issue 7 lists. Figures are not asserted (speed belongs to the bench, not to tests).
 */

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const KEYS = ['pre_ms', 'infer_ms', 'limit_fps', 'pipeline_fps', 'ratio', 'latency_p50_ms', 'latency_p99_ms', 'rss_peak_mb', 'rss_steady_mb', 'startup_ms'];
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'edgecam-bench-cli-'));
  await writeColourModel(join(work, 'model'), ['red', 'green', 'blue']);
});
after(async () => { await rm(work, { recursive: true, force: true }); });

function edgecam(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('edgecam bench --json: all stages run; the last stdout line has exactly the issue\'s keys, all finite', async () => {
  const r = await edgecam(['bench', '--model', join(work, 'model'), '--seconds', '1', '--startup-runs', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'under --json stdout holds only the figures');
  const figures = JSON.parse(lines.at(-1)!) as Record<string, number>;
  assert.deepEqual(Object.keys(figures), KEYS);
  for (const key of KEYS) assert.ok(Number.isFinite(figures[key]) && figures[key]! > 0, `${key} = ${figures[key]}`);
  assert.ok(Math.abs(figures.limit_fps! - 1000 / Math.max(figures.pre_ms!, figures.infer_ms!)) / figures.limit_fps! < 0.01, 'limit_fps = 1 / max(pre, infer)');
  assert.ok(Math.abs(figures.ratio! - figures.pipeline_fps! / figures.limit_fps!) < 0.01, 'ratio = pipeline_fps / limit_fps');
  for (const stage of ['(a) preprocess alone', '(b) inference alone, 1 intra-op thread', '(b) inference alone, 2 intra-op threads', '(c) pipeline (ONNX Runtime on a worker thread)', 'startup of `edgecam run`', 'targets:']) {
    assert.ok(r.stderr.includes(stage), `progress mentions ${stage}`);
  }
});

test('edgecam bench: bad options and a missing model fail with exit 1 and say what to do', async () => {
  const seconds = await edgecam(['bench', '--model', join(work, 'model'), '--seconds', '0']);
  assert.equal(seconds.code, 1);
  assert.match(seconds.stderr, /--seconds must be between 1 and 3600/);
  const missing = await edgecam(['bench', '--model', join(work, 'nowhere'), '--seconds', '1']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nowhere/);
});
