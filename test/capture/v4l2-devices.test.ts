import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listCameras, parseV4l2Devices } from '../../src/capture/v4l2-devices.js';

const RECORDED = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/recorded');

/** v4l2-ctl's documented --list-devices layout (no camera here to record one): name (bus):, tab-indented nodes. */
const LISTING = [
  'bcm2835-codec-decode (platform:bcm2835-codec):',
  '\t/dev/video10',
  '\t/dev/video11',
  '\t/dev/media2',
  '',
  'HD Pro Webcam C920 (usb-0000:01:00.0-1.2):',
  '\t/dev/video0',
  '\t/dev/video1',
  '\t/dev/media3',
  '',
  'Media controller only (platform:x):',
  '\t/dev/media4',
  '',
].join('\n');

test('parses v4l2-ctl --list-devices into cameras with their video nodes', () => {
  assert.deepEqual(parseV4l2Devices(LISTING), [
    { name: 'bcm2835-codec-decode', bus: 'platform:bcm2835-codec', paths: ['/dev/video10', '/dev/video11'] },
    { name: 'HD Pro Webcam C920', bus: 'usb-0000:01:00.0-1.2', paths: ['/dev/video0', '/dev/video1'] },
  ]);
  assert.deepEqual(parseV4l2Devices(''), []);
});

test('when v4l2-ctl fails (recorded: no devices, exit 1) /dev is scanned and named from sysfs', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-v4l2-'));
  t.after(() => rm(root, { recursive: true }));
  const dev = join(root, 'dev');
  const sys = join(root, 'sys');
  await mkdir(dev);
  for (const n of ['video10', 'video2', 'media0', 'videoX']) await writeFile(join(dev, n), '');
  await mkdir(join(sys, 'video2'), { recursive: true });
  await writeFile(join(sys, 'video2', 'name'), 'USB Camera\n');
  const recordedStderr = await readFile(join(RECORDED, 'v4l2-ctl-list-devices-none.stderr.txt'), 'utf8');
  const result = await listCameras({ runV4l2Ctl: async () => { throw new Error(recordedStderr); }, devDir: dev, sysDir: sys });
  assert.equal(result.method, 'scan');
  assert.deepEqual(result.devices, [{ name: 'USB Camera', paths: [`${dev}/video2`] }, { name: 'video10', paths: [`${dev}/video10`] }]);
  const empty = await listCameras({ runV4l2Ctl: async () => { throw new Error('ENOENT'); }, devDir: join(root, 'missing') });
  assert.deepEqual(empty.devices, []);
});

test('uses v4l2-ctl output when it succeeds', async () => {
  const result = await listCameras({ runV4l2Ctl: async () => LISTING });
  assert.equal(result.method, 'v4l2-ctl');
  assert.equal(result.devices.length, 2);
});
