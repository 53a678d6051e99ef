import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../fakes/browser.js';
import { waitUntil } from '../daemon/fixtures.js';
import { startUiRig, type UiRig } from './ui-setup.js';

/**
 * The page in a real browser (Debian's chromium via playwright-core) against a real daemon replaying a folder:
 * it shows a frame and the label, labelling a frame moves its file, undo moves it back, rollback switches the
 * active version and the model in service. Each view is screenshotted to test-output/screenshots/.
 */

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const PASSWORD = 'correct-horse-battery';
let rig: UiRig;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  // With a password, as on a LAN install: the browser answers the Basic challenge and every fetch of the page carries it.
  [rig, browser] = await Promise.all([startUiRig({ auth: PASSWORD }), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1100, height: 800 }, httpCredentials: { username: 'owner', password: PASSWORD } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  page.setDefaultTimeout(15_000);
});
after(async () => {
  await browser?.close();
  await rig?.close();
});

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

test('live view: the camera frame, the stable label, one bar per class, model, pipeline figures', async () => {
  await page.goto(`${rig.url}/`);
  await page.waitForFunction(() => document.getElementById('stable-label')?.textContent === 'cat');
  await page.waitForFunction(() => {
    const img = document.getElementById('frame') as HTMLImageElement | null;
    return Boolean(img?.dataset.frameId) && img!.complete && img!.naturalWidth > 0;
  });
  assert.equal(await page.$eval('#frame', (img) => (img as HTMLImageElement).naturalWidth), 64, 'the replayed 64×48 JPEG is shown');
  assert.deepEqual(await page.$$eval('#scores .name', (els) => els.map((e) => e.textContent)), ['cat', 'dog', 'none']);
  const catBar = Number(await page.$eval('#scores li:first-child .bar', (el) => el.getAttribute('aria-valuenow')));
  assert.ok(catBar > 0.99, `cat scores ${catBar} on a red frame`);
  assert.match(await page.textContent('#model') ?? '', /^colour 2 on cpu$/);
  assert.match(await page.textContent('#smoothing') ?? '', /1 of the last 1 frames/);
  await page.waitForFunction(() => /fps$/.test(document.querySelector('#stats dd')?.textContent ?? ''));
  const stats = await page.$$eval('#stats dt', (els) => els.map((e) => e.textContent));
  for (const k of ['Frame rate', 'Latency p50 / p99', 'Dropped (busy)']) assert.ok(stats.includes(k), `stats show ${k}`);
  await page.waitForFunction(() => /^healthy/.test(document.getElementById('health')?.textContent ?? ''));
  await page.screenshot({ path: join(SHOTS, 'live.png') });

  // The frame is polled at a few fps at most: over 3 s the page asks for at most ~3 fps worth of frames.
  let frameRequests = 0;
  const count = (r: { url(): string }): void => { if (r.url().includes('/api/frame')) frameRequests++; };
  page.on('request', count);
  await page.waitForTimeout(3000);
  page.off('request', count);
  assert.ok(frameRequests >= 1 && frameRequests <= 9, `frame requests in 3 s: ${frameRequests}`);

  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow} px too wide)`);
  await page.screenshot({ path: join(SHOTS, 'live-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1100, height: 800 });
});

test('label view: most uncertain first; a key press and a click move files; undo moves one back', async () => {
  await page.goto(`${rig.url}/#label`);
  await page.waitForSelector('#label-grid .card');
  const ids = await page.$$eval('#label-grid .card', (els) => els.map((e) => e.getAttribute('data-id')));
  assert.deepEqual(ids, rig.frames.map((f) => f.id), 'sorted by uncertainty');
  assert.deepEqual(await page.$$eval('#label-keys .key', (els) => els.map((e) => e.textContent?.trim())), ['1 cat', '2 dog', '3 none']);
  await page.screenshot({ path: join(SHOTS, 'label.png') });

  // Keyboard: the first card is selected; "2" labels it dog.
  const [first, second, third] = rig.frames.map((f) => f.id) as [string, string, string];
  await page.focus(`#label-grid .card[data-id="${first}"]`);
  await page.keyboard.press('2');
  await waitUntil(() => exists(join(rig.dataDir, 'labelled', 'dog', `${first}.jpg`)), 10_000, 'frame moved to labelled/dog');
  assert.equal(await exists(join(rig.dataDir, 'unlabelled', `${first}.jpg`)), false);
  assert.equal(await exists(join(rig.dataDir, 'labelled', 'dog', `${first}.json`)), true, 'its sidecar moved with it');
  await page.waitForFunction((id) => !document.querySelector(`#label-grid .card[data-id="${id}"]`), first);

  // One click on a class button.
  await page.getByRole('button', { name: `Label frame ${second} as none` }).click();
  await waitUntil(() => exists(join(rig.dataDir, 'labelled', 'none', `${second}.jpg`)), 10_000, 'frame moved to labelled/none');
  // The file moves before the page hears the answer; wait for the card to leave the grid, then count.
  await page.waitForFunction((id) => !document.querySelector(`#label-grid .card[data-id="${id}"]`), second);
  assert.equal(await page.$$eval('#label-grid .card', (els) => els.length), 1);

  // Undo (key u) puts the last one back, unlabelled, and it reappears in the grid.
  await page.keyboard.press('u');
  await waitUntil(() => exists(join(rig.dataDir, 'unlabelled', `${second}.jpg`)), 10_000, 'frame back in unlabelled');
  assert.equal(await exists(join(rig.dataDir, 'labelled', 'none', `${second}.jpg`)), false);
  await page.waitForSelector(`#label-grid .card[data-id="${second}"]`);
  assert.ok(await exists(join(rig.dataDir, 'labelled', 'dog', `${first}.jpg`)), 'the earlier label stays');
  assert.ok(await exists(join(rig.dataDir, 'unlabelled', `${third}.jpg`)), 'untouched frames stay');
});

test('models view: versions with metrics and the active one; rollback switches the active version and the model served', async () => {
  await page.goto(`${rig.url}/#models`);
  await page.waitForSelector('#versions .version');
  assert.deepEqual(await page.$$eval('#versions .version', (els) => els.map((e) => e.getAttribute('data-version'))), ['2', '1']);
  assert.match(await page.textContent('#versions .version[data-version="2"]') ?? '', /active.*serving/);
  assert.match(await page.textContent('#versions .version[data-version="2"] .stats') ?? '', /accuracy\s*95\.0 %/);
  await page.screenshot({ path: join(SHOTS, 'models.png') });

  await page.getByRole('button', { name: 'Roll back to version 1' }).click();
  // rollback() re-points active, then previous: wait for both.
  await waitUntil(async () => (await rig.store.active()) === '1' && (await rig.store.previous()) === '2', 10_000, 'store active = 1, previous = 2');
  await waitUntil(() => rig.daemon.snapshot().model?.version === '1', 15_000, 'daemon serving version 1');
  await page.waitForFunction(() => /active/.test(document.querySelector('#versions .version[data-version="1"] .badges')?.textContent ?? ''));
  await page.waitForFunction(() => /serving/.test(document.querySelector('#versions .version[data-version="1"] .badges')?.textContent ?? ''));
  await page.screenshot({ path: join(SHOTS, 'models-rolled-back.png') });

  // Back on the live view the new model's classes and answer show up.
  await page.goto(`${rig.url}/#live`);
  await page.waitForFunction(() => document.getElementById('stable-label')?.textContent === 'red');
  assert.match(await page.textContent('#model') ?? '', /^colour 1 on cpu$/);

  // Activate 2 again with its button.
  await page.goto(`${rig.url}/#models`);
  await page.getByRole('button', { name: 'Activate version 2' }).click();
  await waitUntil(async () => (await rig.store.active()) === '2' && rig.daemon.snapshot().model?.version === '2', 15_000, 'version 2 back');

  // Fine-tune now: the daemon's learning loop runs (and here ends: one labelled frame is not a dataset); the page
  // shows each state it reports until the last one, with its message.
  await page.getByRole('button', { name: 'Fine-tune now' }).click();
  await page.waitForFunction(() => /^Fine-tune: (failed|rejected|activated)/.test(document.getElementById('finetune-text')?.textContent ?? ''), undefined, { timeout: 60_000 });
  const shown = await page.textContent('#finetune-text') ?? '';
  const reported = (await (await fetch(`${rig.url}/api/models`, { headers: { authorization: `Bearer ${PASSWORD}` } })).json()) as { finetune: { state: string; message?: string } };
  assert.ok(shown.startsWith(`Fine-tune: ${reported.finetune.state}`), `${shown} vs ${JSON.stringify(reported.finetune)}`);
  if (reported.finetune.message) assert.ok(shown.includes(reported.finetune.message));
  await page.screenshot({ path: join(SHOTS, 'models-finetune.png') });
});

test('without the password the browser gets a 401 and none of the page', async () => {
  const stranger = await browser.newPage();
  try {
    // Headless chromium cannot show the password prompt, so the navigation fails the way a cancelled prompt does.
    await assert.rejects(stranger.goto(`${rig.url}/`), /ERR_INVALID_AUTH_CREDENTIALS/);
    assert.equal((await fetch(`${rig.url}/api/live`)).status, 401);
  } finally {
    await stranger.close();
  }
});

test('every button and link has an accessible name, and the page logged no errors', async () => {
  for (const view of ['live', 'label', 'models']) {
    await page.goto(`${rig.url}/#${view}`);
    // Rendered: the live view polls forever, so "network idle" never comes; wait for each view's content instead.
    await page.waitForSelector({ live: '#scores li', label: '#label-grid .card', models: '#versions .version' }[view]!);
    const unnamed = await page.$$eval('button, a, input', (els) => els
      .filter((e) => !(e as HTMLElement).closest('[hidden]'))
      .filter((e) => !(e.getAttribute('aria-label') || e.textContent?.trim() || (e.id && document.querySelector(`label[for="${e.id}"]`))))
      .map((e) => e.outerHTML.slice(0, 80)));
    assert.deepEqual(unnamed, [], `${view}: controls without a name`);
  }
  assert.deepEqual(pageErrors, []);
});
