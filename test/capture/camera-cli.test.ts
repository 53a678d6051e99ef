import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { lavfiInput } from '../fakes/ffmpeg.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

function edgecam(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 15_000, env: { ...process.env, EDGECAM_SOURCE: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('camera grab saves one frame from real ffmpeg and from a folder', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-grab-'));
  t.after(() => rm(dir, { recursive: true }));
  const out = join(dir, 'frame.jpg');
  const ff = await edgecam(['camera', 'grab', '--source', `ffmpeg:${lavfiInput({ fps: 10 })}`, '--width', '160', '--height', '120', '--out', out]);
  assert.equal(ff.code, 0, ff.stderr);
  assert.match(ff.stdout, /Saved \d+ bytes/);
  const meta = await sharp(await readFile(out)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 160, 120]);

  const images = join(dir, 'images');
  await import('node:fs/promises').then((fs) => fs.mkdir(images));
  const png = await sharp({ create: { width: 5, height: 5, channels: 3, background: 'black' } }).png().toBuffer();
  await writeFile(join(images, 'one.png'), png);
  const folderOut = join(dir, 'copy.png');
  const folder = await edgecam(['camera', 'grab', '--source', `folder:${images}`, '--out', folderOut]);
  assert.equal(folder.code, 0, folder.stderr);
  assert.deepEqual(await readFile(folderOut), png);
});

test('camera grab fails with exit 1 and a clear message', { timeout: 20_000 }, async () => {
  const bad = await edgecam(['camera', 'grab', '--source', 'usb:0', '--out', '/tmp/never.jpg']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Unknown capture source "usb:0".*\[CAPTURE_SPEC_INVALID\]/s);
  const timeout = await edgecam(['camera', 'grab', '--source', 'ffmpeg:-re -f lavfi -i testsrc=rate=0.1', '--timeout', '300', '--out', '/tmp/never.jpg']);
  assert.equal(timeout.code, 1);
  assert.match(timeout.stderr, /No frame from .* within 300 ms.*\[GRAB_TIMEOUT\]/s);
});

test('camera list prints devices or the no-camera hints, exit 0', { timeout: 20_000 }, async () => {
  const list = await edgecam(['camera', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /No cameras found\.[\s\S]*video" group|\/dev\/video\d+/);
  const json = await edgecam(['camera', 'list', '--json']);
  assert.ok(Array.isArray(JSON.parse(json.stdout)));
});
