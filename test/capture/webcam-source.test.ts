import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { silentLogger } from '../../src/logger.js';
import { systemClock, type Frame } from '../../src/types.js';
import { WebcamSource, type NodeWebcamCamera, type NodeWebcamModule } from '../../src/capture/webcam-source.js';
import { CaptureError } from '../../src/capture/errors.js';

const RECORDED = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/recorded');
const recorded = (name: string) => readFile(join(RECORDED, name), 'utf8');
/** Not recordable without a camera: fswebcam's own format strings with strerror(EBUSY) (see the fixtures README). */
const BUSY_STDERR = '\x1b[31mError selecting input 0\n\x1b[0m\x1b[31mVIDIOC_S_INPUT: Device or resource busy\n\x1b[0m';

type Behaviour = { stderr: string; writesImage: boolean; execError?: Error & { code?: number } };

/**
 * Behaves like node-webcam 0.8 around fswebcam: exec error → callback(err); otherwise it passes fswebcam's stderr to
 * runCaptureValidations and fails on a returned Error, else answers with the location (whether or not fswebcam
 * wrote the file, since fswebcam exits 0 on failure).
 */
function fakeNodeWebcam(behaviour: () => Behaviour, jpeg: Buffer) {
  const created: Array<Record<string, unknown>> = [];
  const locations: string[] = [];
  const module: NodeWebcamModule = {
    create(options) {
      created.push(options);
      const camera: NodeWebcamCamera = {
        capture(location, callback) {
          locations.push(location);
          const b = behaviour();
          setTimeout(async () => {
            if (b.execError) return callback(b.execError);
            const invalid = camera.runCaptureValidations?.(b.stderr) ?? null;
            if (invalid) return callback(invalid);
            if (b.writesImage) await writeFile(location, jpeg);
            callback(null, location);
          }, 2);
        },
      };
      return camera;
    },
  };
  return { module, created, locations };
}

async function failureFor(behaviour: Behaviour): Promise<CaptureError> {
  const { module } = fakeNodeWebcam(() => behaviour, Buffer.alloc(0));
  const source = new WebcamSource({ logger: silentLogger(), clock: systemClock, webcam: module }, { device: '/dev/video0' });
  const failed = new Promise<Error>((resolve) => source.on('error', resolve));
  await source.start();
  const err = await failed;
  await source.stop();
  assert.ok(err instanceof CaptureError);
  return err;
}

test('shots become frames at fps; options reach node-webcam; the temp folder is removed on stop', { timeout: 10_000 }, async () => {
  const jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: 'green' } }).jpeg().toBuffer();
  const { module, created, locations } = fakeNodeWebcam(() => ({ stderr: '', writesImage: true }), jpeg);
  const source = new WebcamSource({ logger: silentLogger(), clock: systemClock, webcam: module }, { device: '/dev/video2', fps: 50, width: 320, height: 240 });
  const frames: Frame[] = [];
  source.on('frame', (f) => frames.push(f));
  await source.start();
  while (frames.length < 3) await new Promise((r) => setTimeout(r, 5));
  await source.stop();
  assert.deepEqual(frames[0]!.data, jpeg);
  assert.equal(frames[0]!.origin, 'webcam:/dev/video2');
  assert.deepEqual({ ...created[0], skip: undefined }, { width: 320, height: 240, quality: 85, skip: undefined, device: '/dev/video2', output: 'jpeg', callbackReturn: 'location', saveShots: false, verbose: false });
  assert.equal(source.status, 'offline');
  assert.match(locations[0]!, /edgecam-webcam-[\w]+\/shot\.jpg$/);
  assert.equal(existsSync(dirname(locations[0]!)), false, 'temp folder removed');
});

test('recorded "no device" output → WEBCAM_NOT_FOUND', async () => {
  const err = await failureFor({ stderr: await recorded('fswebcam-no-device.stderr.txt'), writesImage: false });
  assert.equal(err.code, 'WEBCAM_NOT_FOUND');
  assert.match(err.message, /No camera at \/dev\/video0.*edgecam camera list/);
});

test('recorded "permission denied" output → WEBCAM_PERMISSION with the video-group fix', async () => {
  const err = await failureFor({ stderr: await recorded('fswebcam-permission-denied.stderr.txt'), writesImage: false });
  assert.equal(err.code, 'WEBCAM_PERMISSION');
  assert.match(err.message, /usermod -aG video/);
});

test('busy device → WEBCAM_BUSY', async () => {
  const err = await failureFor({ stderr: BUSY_STDERR, writesImage: false });
  assert.equal(err.code, 'WEBCAM_BUSY');
  assert.match(err.message, /another program/);
});

test('recorded "not a V4L2 device" output → WEBCAM_NOT_V4L2', async () => {
  const err = await failureFor({ stderr: await recorded('fswebcam-not-v4l2.stderr.txt'), writesImage: false });
  assert.equal(err.code, 'WEBCAM_NOT_V4L2');
});

test('fswebcam missing (recorded shell output, exit 127) → WEBCAM_TOOL_MISSING', async () => {
  const stderr = await recorded('sh-fswebcam-not-found.stderr.txt');
  const execError = Object.assign(new Error(`Command failed: fswebcam -q ...\n${stderr}`), { code: 127 });
  const err = await failureFor({ stderr, writesImage: false, execError });
  assert.equal(err.code, 'WEBCAM_TOOL_MISSING');
  assert.match(err.message, /apt install fswebcam/);
});

test('unrecognised stderr and no image → WEBCAM_FAILED quoting fswebcam without colour codes', async () => {
  const err = await failureFor({ stderr: '\x1b[31mVIDIOC_DQBUF: Input/output error\n\x1b[0m', writesImage: false });
  assert.equal(err.code, 'WEBCAM_FAILED');
  assert.match(err.message, /VIDIOC_DQBUF: Input\/output error/);
  assert.doesNotMatch(err.message, /\x1b/);
});

test('device names are validated strictly before anything reaches a shell', () => {
  for (const device of ['/dev/video0; rm -rf /', '/dev/video0 ', 'video0', '/dev/../dev/video0', '$(reboot)', '/dev/video']) {
    assert.throws(() => new WebcamSource({ logger: silentLogger(), clock: systemClock, webcam: { create: () => assert.fail('must not be called') } }, { device }),
      (e: unknown) => e instanceof CaptureError && e.code === 'CAPTURE_SPEC_INVALID', device);
  }
});

test('numeric options are checked before they reach the shell string', async () => {
  const source = new WebcamSource({ logger: silentLogger(), clock: systemClock, webcam: { create: () => assert.fail('must not be called') } },
    { device: '/dev/video0', width: 1.5 });
  await assert.rejects(source.start(), (e: unknown) => e instanceof CaptureError && e.code === 'CAPTURE_OPTIONS_INVALID');
});

test('real node-webcam + fswebcam on a device that does not exist → WEBCAM_NOT_FOUND', { timeout: 10_000 }, async () => {
  let n = 90;
  while (existsSync(`/dev/video${n}`)) n += 1;
  const source = new WebcamSource({ logger: silentLogger(), clock: systemClock }, { device: `/dev/video${n}` });
  const failed = new Promise<Error>((resolve) => source.on('error', resolve));
  await source.start();
  const err = await failed as CaptureError;
  await source.stop();
  assert.equal(err.code, 'WEBCAM_NOT_FOUND');
  assert.match(err.message, new RegExp(`/dev/video${n}`));
});
