import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rm, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { configSchema } from '../../src/config/schema.js';
import { listFramesWithSidecars } from '../../src/collect/labels.js';
import { silentLogger } from '../../src/logger.js';
import { createDaemon } from '../../src/main.js';
import type { Daemon } from '../../src/daemon.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { Recorder, waitUntil } from '../daemon/fixtures.js';
import { transferFixture } from '../learn/finetune-fixtures.js';
import { CLASS_COLOURS, colourImage } from '../learn/synthetic.js';

/**
 * The learning loop through a real daemon and a real mosquitto: folder replay → frames kept with sidecars →
 * MQTT `label` → MQTT `finetune` (child process) → new version active and classifying, previous kept for rollback.
 */

let broker: MosquittoBroker;
before(async () => { broker = await startMosquitto(); });
after(async () => { await broker?.stop(); });

test('collect → label over MQTT → finetune over MQTT → hot swap to the new version', async () => {
  const f = await transferFixture({ labels: ['red', 'blue', 'green'], counts: { red: 1, blue: 1, green: 1 } });
  const camera = join(f.root, 'camera');
  await mkdir(camera);
  let seed = 100;
  for (const cls of ['red', 'blue', 'green']) {
    for (let i = 0; i < 14; i++) await writeFile(join(camera, `${cls}_${String(i).padStart(2, '0')}.png`), await colourImage(CLASS_COLOURS[cls]!, 16, seed++ * 31));
  }
  const collectDir = join(f.root, 'collect');
  const config = configSchema.parse({
    camera: { source: `folder:${camera}`, fps: 10, loop: false }, // 10 fps: no backpressure drops even on a loaded CI machine
    model: { dir: join(f.models, 'active'), providers: ['cpu'], watch: false },
    mqtt: { url: broker.url, baseTopic: 'loop', cameraId: 'door', statsInterval: 60 },
    http: { port: 0, ui: false },
    collect: { enabled: true, dir: collectDir, sampleInterval: 0.001, duplicateThreshold: 0 },
    finetune: { epochs: 40, lr: 0.05 },
    log: { level: 'silent', decisions: false },
  });
  const rec = await Recorder.connect(broker.url, ['loop/#']);
  const daemon: Daemon = await createDaemon(config, silentLogger());
  try {
    await daemon.start();
    await waitUntil(() => daemon.snapshot().counters.classified + daemon.snapshot().counters.dropped >= 42, 30_000, 'all frames replayed');
    // Each kept frame is an image + its sidecar; the writes trail classification a little.
    await waitUntil(async () => (await readdir(join(collectDir, 'unlabelled')).catch(() => [])).length >= 2 * 30, 30_000, 'frames collected');
    const frames = await listFramesWithSidecars(collectDir, { unlabelled: true });
    assert.ok(frames.length >= 30, `${frames.length} frames kept`);
    const sc = frames[0]!.sidecarData!;
    assert.deepEqual(sc.model, { name: 'colours', version: 'v1' });
    assert.equal(sc.camera, 'door');
    assert.ok(sc.origin && sc.scores && sc.predicted);
    // The collector's counters are in the daemon's /metrics beside the pipeline's.
    const metricsText = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
    assert.match(metricsText, /edgecam_frames_total\{outcome="classified"\} [1-9]/);
    const kept = [...metricsText.matchAll(/^edgecam_collect_kept_total\{reason="[a-z_-]+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    assert.ok(kept >= frames.length, `edgecam_collect_kept_total sums to ${kept} for ${frames.length} kept frames`);
    // Label from the file names, one request per class.
    const byClass: Record<string, string[]> = {};
    for (const fr of frames) (byClass[basename(fr.sidecarData!.origin!).split('_')[0]!] ??= []).push(fr.id);
    let tx = 1;
    for (const [cls, ids] of Object.entries(byClass)) {
      const r = await rec.request('loop', 'label', { ids, class: cls }, tx++);
      assert.equal(r.status, 'ok', JSON.stringify(r));
      assert.equal((r.data as { labelled: number }).labelled, ids.length);
    }
    const bad = await rec.request('loop', 'label', { ids: [frames[0]!.id], class: '../../etc' }, tx++);
    assert.equal(bad.code, 'LABEL_BAD_CLASS');
    const from = rec.messages.length;
    // A bound, not a timing: the fine-tune runs in a nice-19 child, slow when the machine is busy.
    const response = await rec.request('loop', 'finetune', { epochs: 40 }, tx++, 120_000);
    assert.equal(response.status, 'ok', JSON.stringify(response));
    const data = response.data as { version: string; activated: boolean; candidateAccuracy: number; currentAccuracy: number; parentVersion: string };
    assert.equal(data.activated, true, JSON.stringify(data));
    assert.equal(data.parentVersion, 'v1');
    // The daemon filed every kept frame's plain embedding while classifying it; only the training frames' mirrors run.
    const embeddings = (data as unknown as { embeddings: { computed: number; mirrored: number; cached: number } }).embeddings;
    assert.equal(embeddings.cached, frames.length, 'every plain embedding came from the cache');
    assert.equal(embeddings.computed, embeddings.mirrored);
    assert.ok(embeddings.mirrored > 0 && embeddings.mirrored < frames.length, `${embeddings.mirrored} mirrors of ${frames.length} frames: held-back frames have none`);
    assert.ok(data.candidateAccuracy >= data.currentAccuracy);
    assert.equal(daemon.snapshot().model?.version, data.version, 'the daemon serves the new version');
    assert.equal(await f.store.active(), data.version);
    assert.equal(await f.store.previous(), 'v1');
    const progress = rec.messages.slice(from).filter((m) => m.topic === 'loop/finetune').map((m) => JSON.parse(m.payload.toString()) as { state: string; epoch?: number });
    assert.ok(progress.some((p) => p.state === 'training' && p.epoch === 40), 'epochs are published');
    assert.equal(progress.at(-1)!.state, 'activated');
    const busy = rec.request('loop', 'finetune', {}, tx++, 120_000);
    const again = await rec.request('loop', 'finetune', {}, tx++);
    assert.equal(again.code, 'FINETUNE_BUSY');
    await busy;
    assert.equal((await f.store.verify()).ok, true);
  } finally {
    await daemon.stop();
    await rec.close();
    await rm(f.root, { recursive: true, force: true });
  }
});
