import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { grabSpec } from '../../src/cli/commands/camera.js';
import { freePort, lavfiInput } from '../fakes/ffmpeg.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

function edgecam(args: string[], env: NodeJS.ProcessEnv = {}, cwd = tmpdir()): Promise<{ code: number; stdout: string; stderr: string }> {
  // The caller's own camera settings must not leak in; cwd has no edgecam.yaml unless a test writes one.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGECAM_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 15_000, cwd, env: { ...clean, ...env } }, (err, stdout, stderr) => {
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
  // ffmpeg waiting for a TCP peer that never connects: a camera that never sends, whatever the machine's speed.
  // (testsrc at 0.1 fps raced: its frame at t=0 sometimes arrived inside the 300 ms.)
  const silent = `ffmpeg:-f mjpeg -i tcp://127.0.0.1:${await freePort()}?listen=1`;
  const timeout = await edgecam(['camera', 'grab', '--source', silent, '--timeout', '300', '--out', '/tmp/never.jpg']);
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

test('camera grab without --source uses the configured camera: edgecam.yaml in the working directory, --config, EDGECAM_CAMERA_SOURCE', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-grab-config-'));
  t.after(() => rm(dir, { recursive: true }));
  const image = (shade: number) => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: shade, g: shade, b: shade } } }).png().toBuffer();
  const [fromYaml, fromOther, fromEnv] = await Promise.all([image(10), image(120), image(250)]);
  for (const [name, png] of [['yaml', fromYaml], ['other', fromOther], ['env', fromEnv]] as const) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'one.png'), png);
  }
  // A relative folder in the default config file is taken from the working directory, as `edgecam run` does.
  await writeFile(join(dir, 'edgecam.yaml'), 'camera:\n  source: folder:yaml\n');
  await writeFile(join(dir, 'other.yaml'), `camera:\n  source: folder:${join(dir, 'other')}\n`);
  const out = join(dir, 'out.png');

  const yaml = await edgecam(['camera', 'grab', '--out', out], {}, dir);
  assert.equal(yaml.code, 0, yaml.stderr);
  assert.deepEqual(await readFile(out), fromYaml);
  const other = await edgecam(['camera', 'grab', '--config', join(dir, 'other.yaml'), '--out', out], {}, dir);
  assert.equal(other.code, 0, other.stderr);
  assert.deepEqual(await readFile(out), fromOther);
  const env = await edgecam(['camera', 'grab', '--out', out], { EDGECAM_CAMERA_SOURCE: `folder:${join(dir, 'env')}` }, dir);
  assert.equal(env.code, 0, env.stderr);
  assert.deepEqual(await readFile(out), fromEnv);
  const flag = await edgecam(['camera', 'grab', '--source', 'folder:other', '--out', out], { EDGECAM_CAMERA_SOURCE: `folder:${join(dir, 'env')}` }, dir);
  assert.equal(flag.code, 0, flag.stderr);
  assert.deepEqual(await readFile(out), fromOther, '--source wins over the configuration');

  const broken = await edgecam(['camera', 'grab', '--out', out], { EDGECAM_CAMERA_FPS: 'fast' }, dir);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /camera\.fps \(from env EDGECAM_CAMERA_FPS\)/);
});

test('grabSpec: flag, then configured source, then the first V4L2 device; folders resolved against cwd', () => {
  assert.equal(grabSpec('ffmpeg:rtsp://cam/1', 'folder:x', '/w'), 'ffmpeg:rtsp://cam/1');
  assert.equal(grabSpec(undefined, 'snapshot:http://cam/jpg', '/w'), 'snapshot:http://cam/jpg');
  assert.equal(grabSpec(undefined, undefined, '/w'), 'ffmpeg:/dev/video0');
  assert.equal(grabSpec(undefined, 'folder:imgs', '/w'), 'folder:/w/imgs');
  assert.equal(grabSpec('folder:/abs', undefined, '/w'), 'folder:/abs');
});
