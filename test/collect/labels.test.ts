import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { listFrames } from '../../src/collect/frames.js';
import { importClassFolders, setLabels, validateClassName } from '../../src/collect/labels.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

async function jpeg(v: number): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 0, b: 0 } } }).jpeg().toBuffer();
}

async function dataWith(ids: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-labels-'));
  await mkdir(join(dir, 'unlabelled'), { recursive: true });
  for (const [i, id] of ids.entries()) {
    await writeFile(join(dir, 'unlabelled', `${id}.jpg`), await jpeg(i * 20));
    await writeFile(join(dir, 'unlabelled', `${id}.json`), JSON.stringify({ id, time: '2024-01-01T00:00:00Z', reason: 'sample', bytes: 1, predicted: { label: 'dog', confidence: 0.4 } }));
  }
  return dir;
}

test('class names: separators, .., dot-names, control characters, wildcards and overlong names are refused', () => {
  for (const ok of ['cat', 'no cat', 'Dog_2', 'été']) assert.equal(validateClassName(ok), ok);
  for (const bad of ['', 'a/b', 'a\\b', '..', 'x..y', '.hidden', 'tab\there', ' cat', 'a#', 'x'.repeat(65)]) {
    assert.throws(() => validateClassName(bad), { code: 'LABEL_BAD_CLASS' }, bad);
  }
});

test('set moves image and sidecar into labelled/<class>/, records the label, relabels, reports unknown ids', async () => {
  const ids = ['20240101-000000-000-000001', '20240101-000000-000-000002'];
  const dir = await dataWith(ids);
  const r = await setLabels(dir, [ids[0]!, '20240101-000000-000-999999'], 'cat');
  assert.deepEqual(r.labelled, [{ id: ids[0], to: 'cat' }]);
  assert.deepEqual(r.missing, ['20240101-000000-000-999999']);
  assert.deepEqual((await readdir(join(dir, 'labelled/cat'))).sort(), [`${ids[0]}.jpg`, `${ids[0]}.json`]);
  const sidecar = JSON.parse(await readFile(join(dir, 'labelled/cat', `${ids[0]}.json`), 'utf8')) as Record<string, unknown>;
  assert.equal(sidecar.label, 'cat');
  assert.deepEqual(sidecar.predicted, { label: 'dog', confidence: 0.4 }, 'what the model said is kept');
  await setLabels(dir, [ids[0]!], 'dog');
  assert.deepEqual(await readdir(join(dir, 'labelled/cat')), []);
  assert.deepEqual((await listFrames(dir)).map((f) => [f.id, f.label]), [[ids[0], 'dog'], [ids[1], undefined]]);
  await assert.rejects(setLabels(dir, ['../../etc/passwd'], 'cat'), { code: 'LABEL_BAD_ID' });
  await assert.rejects(setLabels(dir, [ids[1]!], '../x'), { code: 'LABEL_BAD_CLASS' });
  await rm(dir, { recursive: true, force: true });
});

test('a failed move loses nothing: the frame stays unlabelled and no stray sidecar is left', async () => {
  const ids = ['20240101-000000-000-000001'];
  const dir = await dataWith(ids);
  // The class folder exists but cannot take new entries (read-only): rename fails with EACCES… unless we are root,
  // who ignores permissions; so make the *target name* an existing non-empty directory instead: rename(2) fails with EISDIR/ENOTEMPTY for everyone.
  await mkdir(join(dir, 'labelled/cat', `${ids[0]}.jpg`, 'blocker'), { recursive: true });
  await assert.rejects(setLabels(dir, ids, 'cat'), { code: 'LABEL_MOVE_FAILED' });
  assert.deepEqual((await readdir(join(dir, 'unlabelled'))).sort(), [`${ids[0]}.jpg`, `${ids[0]}.json`]);
  assert.deepEqual(await readdir(join(dir, 'labelled/cat')), [`${ids[0]}.jpg`], 'the new sidecar was removed again');
  await rm(dir, { recursive: true, force: true });
});

test('import copies class folders in (idempotent), skips non-images, refuses bad class folder names', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-import-'));
  const src = join(dir, 'src');
  await mkdir(join(src, 'cat'), { recursive: true });
  await mkdir(join(src, 'dog'), { recursive: true });
  await writeFile(join(src, 'cat/a.jpg'), await jpeg(10));
  await writeFile(join(src, 'cat/b.jpg'), await jpeg(90));
  await writeFile(join(src, 'dog/c.png'), await sharp(await jpeg(200)).png().toBuffer());
  await writeFile(join(src, 'dog/notes.jpg'), 'not an image');
  const data = join(dir, 'data');
  const r = await importClassFolders(data, src);
  assert.deepEqual(r.imported, { cat: 2, dog: 1 });
  assert.equal(r.skipped.length, 1);
  assert.deepEqual((await importClassFolders(data, src)).imported, { cat: 0, dog: 0 });
  assert.equal((await readdir(join(src, 'cat'))).length, 2, 'the source is left alone');
  const frames = await listFrames(data);
  assert.deepEqual(frames.map((f) => f.label).sort(), ['cat', 'cat', 'dog']);
  await mkdir(join(src, '.git'));
  await mkdir(join(src, 'a#b'));
  await assert.rejects(importClassFolders(data, src), { code: 'LABEL_BAD_CLASS' });
  await rm(dir, { recursive: true, force: true });
});

test('CLI: label list / set / import and collect, with exit 1 and a message on unknown frames', async () => {
  const ids = ['20240101-000000-000-000001', '20240101-000000-000-000002'];
  const dir = await dataWith(ids);
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--data', dir], { encoding: 'utf8' });
  let r = run('label', 'list', '--unlabelled');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 frame\(s\)/);
  r = run('label', 'set', ids[0]!, ids[1]!, 'cat');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /labelled 2 frame\(s\) as cat/);
  r = run('label', 'set', '20240101-000000-000-000777', 'cat');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no such frame/);
  r = run('label', 'set', ids[0]!, 'a/b');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /path separator/);
  r = run('collect', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { labelled: unknown }).labelled, { cat: 2 });
  await rm(dir, { recursive: true, force: true });
});
