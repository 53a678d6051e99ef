import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFfmpegArgs, ffmpegHint } from '../../src/capture/ffmpeg-args.js';
import { maskCredentials, StderrTail } from '../../src/capture/mask.js';

const RECORDED = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/recorded');
const recorded = (name: string) => readFile(join(RECORDED, name), 'utf8');
const OUTPUT = ['-f', 'image2pipe', '-vcodec', 'mjpeg', '-q:v', '5', 'pipe:1'];

test('V4L2 devices are opened at the requested rate and size', () => {
  const args = buildFfmpegArgs({ input: '/dev/video0', fps: 15, width: 640, height: 480, inputFormat: 'mjpeg' });
  assert.deepEqual(args.slice(args.indexOf('-f')), ['-f', 'v4l2', '-framerate', '15', '-video_size', '640x480', '-input_format', 'mjpeg',
    '-i', '/dev/video0', '-an', '-vf', 'scale=640:480', '-r', '15', ...OUTPUT]);
});

test('RTSP goes over TCP; HTTP and files are plain inputs; raw inputs are split; width alone keeps the aspect', () => {
  const rtsp = buildFfmpegArgs({ input: 'rtsp://cam/live' });
  assert.deepEqual(rtsp.slice(rtsp.indexOf('-rtsp_transport')), ['-rtsp_transport', 'tcp', '-i', 'rtsp://cam/live', '-an', ...OUTPUT]);
  const http = buildFfmpegArgs({ input: 'http://cam/video.mjpg', fps: 5, width: 320 });
  assert.deepEqual(http.slice(http.indexOf('-i')), ['-i', 'http://cam/video.mjpg', '-an', '-vf', 'scale=320:-2', '-r', '5', ...OUTPUT]);
  const raw = buildFfmpegArgs({ input: '-re  -f lavfi -i testsrc=rate=10', quality: 3 });
  assert.deepEqual(raw.slice(raw.indexOf('-re')), ['-re', '-f', 'lavfi', '-i', 'testsrc=rate=10', '-an', '-f', 'image2pipe', '-vcodec', 'mjpeg', '-q:v', '3', 'pipe:1']);
});

test('bad numbers and empty inputs are refused', () => {
  assert.throws(() => buildFfmpegArgs({ input: '/dev/video0', fps: 0 }), /fps must be a positive number/);
  assert.throws(() => buildFfmpegArgs({ input: '/dev/video0', width: Number.NaN }), /width/);
  assert.throws(() => buildFfmpegArgs({ input: ' ' }), /empty/);
});

test('recorded ffmpeg failures map to the right hint', async () => {
  const cases: Array<[string, RegExp]> = [
    ['ffmpeg-v4l2-missing-device.stderr.txt', /does not exist/],
    ['ffmpeg-v4l2-permission-denied.stderr.txt', /"video" group/],
    ['ffmpeg-http-connection-refused.stderr.txt', /Nothing answers/],
    ['ffmpeg-rtsp-connection-refused.stderr.txt', /Nothing answers/],
    ['ffmpeg-http-404.stderr.txt', /no stream at that path/],
  ];
  for (const [file, hint] of cases) assert.match(ffmpegHint(await recorded(file)), hint, file);
});

test('credentials are masked in URLs and query strings; stderr tail keeps the last lines, masked', async () => {
  assert.equal(maskCredentials('rtsp://admin:hunter2@10.0.0.5:554/s'), 'rtsp://admin:***@10.0.0.5:554/s');
  assert.equal(maskCredentials('http://cam/snap.cgi?user=a&password=x&res=1'), 'http://cam/snap.cgi?user=a&password=***&res=1');
  assert.equal(maskCredentials('/dev/video0'), '/dev/video0');
  const tail = new StderrTail(2);
  tail.push(await recorded('ffmpeg-rtsp-connection-refused.stderr.txt'));
  tail.push('line three\nunterminated');
  assert.equal(tail.text(), 'rtsp://user:***@127.0.0.1:9/stream: Connection refused\nline three\nunterminated');
  const banner = new StderrTail(3);
  const text = await recorded('ffmpeg-lavfi-banner.stderr.txt');
  for (let i = 0; i < text.length; i += 97) banner.push(text.slice(i, i + 97));
  const lines = banner.text().split('\n');
  assert.equal(lines.length, 3, 'only the last 3 lines are kept');
  assert.match(lines[0]!, /^frame=\s*\d+ fps=/, 'progress lines are split on \\r');
  assert.equal(lines[2], 'Exiting normally, received signal 15.');
});
