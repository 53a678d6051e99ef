import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The bench itself needs ../shared and a minute of CPU (bench/README.md); here only that it builds and starts.
const BENCH = fileURLToPath(new URL('../../bench/learning-loop.js', import.meta.url));
const SPLITS = fileURLToPath(new URL('../../bench/finetune-splits.js', import.meta.url));

test('bench/learning-loop is built and, without the shared data, names what is missing and exits 1', () => {
  const r = spawnSync(process.execPath, [BENCH], { encoding: 'utf8', env: { ...process.env, EDGECAM_SHARED: '/nonexistent/shared' }, timeout: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /\[learning-loop\] failed: \/nonexistent\/shared\/datasets\/pets\/train is missing: this bench needs \.\.\/shared \(set EDGECAM_SHARED\)/);
  assert.equal(r.stdout, '', 'no result line when nothing was measured');
});

test('bench/finetune-splits is built and asks for the kept learning-loop folder', () => {
  const r = spawnSync(process.execPath, [SPLITS], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /usage: node dist\/bench\/finetune-splits\.js <learning-loop work folder \(BENCH_KEEP=1\)>/);
});
