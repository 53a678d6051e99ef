import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { frameId } from '../../src/collect/frames.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import type { Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/logger.js';
import { createDaemon } from '../../src/main.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { ModelStore } from '../../src/models/store.js';
import { startMosquitto, type MosquittoBroker } from '../fakes/mosquitto.js';
import { solidJpeg, waitUntil, writeColourModel, writeImages } from '../daemon/fixtures.js';

/**
 * A daemon as the page meets it: folder replay of a red image through the real pipeline (sharp + onnxruntime-node,
 * the colour model of test/daemon/fixtures.ts), a real mosquitto, a versioned store with two versions (1: red/green/blue,
 * 2: cat/dog/none, active 2, previous 1) and a collection folder with unlabelled frames and their sidecars.
 */

export interface UiRig {
  daemon: Daemon;
  store: ModelStore;
  dataDir: string;
  url: string;
  /** Unlabelled frame ids with the uncertainty their sidecar implies, most uncertain first. */
  frames: { id: string; uncertainty: number }[];
  close(): Promise<void>;
}

/** Sidecars as the collector writes them (src/collect/frames.ts FrameSidecar). */
async function writeUnlabelled(dataDir: string): Promise<{ id: string; uncertainty: number }[]> {
  const dir = join(dataDir, 'unlabelled');
  await mkdir(dir, { recursive: true });
  const specs = [
    { rgb: [200, 40, 40], scores: { cat: 0.9, dog: 0.06, none: 0.04 } },
    { rgb: [120, 110, 60], scores: { cat: 0.45, dog: 0.4, none: 0.15 } },
    { rgb: [40, 40, 200], scores: { cat: 0.1, dog: 0.2, none: 0.7 } },
  ] as const;
  const out: { id: string; uncertainty: number }[] = [];
  for (const [i, s] of specs.entries()) {
    const time = Date.UTC(2024, 4, 1, 10, 0, i);
    const id = frameId(time, i + 1);
    const jpeg = await solidJpeg(s.rgb[0], s.rgb[1], s.rgb[2]);
    const sorted = Object.values(s.scores).sort((a, b) => b - a);
    const [label, confidence] = Object.entries(s.scores).sort((a, b) => b[1] - a[1])[0]!;
    await writeFile(join(dir, `${id}.jpg`), jpeg);
    await writeFile(join(dir, `${id}.json`), JSON.stringify({
      id, time: new Date(time).toISOString(), camera: 'door', reason: 'low-confidence', model: { name: 'colour', version: '2' },
      predicted: { label, confidence }, scores: s.scores, bytes: jpeg.length,
    }, null, 2));
    out.push({ id, uncertainty: Number((1 - (sorted[0]! - sorted[1]!)).toFixed(4)) });
  }
  return out.sort((a, b) => b.uncertainty - a.uncertainty);
}

export async function startUiRig(http: Partial<ConfigInput['http']> = {}): Promise<UiRig> {
  const work = await mkdtemp(join(tmpdir(), 'edgecam-ui-'));
  let broker: MosquittoBroker | undefined;
  let daemon: Daemon | undefined;
  try {
    broker = await startMosquitto();
    const images = join(work, 'camera');
    await writeImages(images, { 'red.jpg': await solidJpeg(230, 20, 20) });
    const store = new ModelStore({ logger: silentLogger() }, join(work, 'models'));
    for (const [version, labels, accuracy] of [['1', ['red', 'green', 'blue'], 0.91], ['2', ['cat', 'dog', 'none'], 0.95]] as const) {
      const tmp = join(work, `model-${version}`);
      await writeColourModel(tmp, [...labels], version);
      const folder = await loadModelFolder(tmp);
      await store.add({
        modelBytes: folder.modelBytes,
        manifest: { ...folder.manifest, created: `2024-0${version}-01T00:00:00.000Z`, metrics: { accuracy, valFrames: 40 }, provenance: version === '2' ? { parentVersion: '1' } : {} },
      }, { status: 'accepted', reason: 'gate passed' });
      await store.activate(version);
    }
    const dataDir = join(work, 'data');
    const frames = await writeUnlabelled(dataDir);
    const config = configSchema.parse({
      camera: { source: `folder:${images}`, fps: 5 },
      model: { dir: store.activeDir, providers: ['cpu'] },
      decision: { window: 1, votes: 1, minDwellMs: 0, enter: 0.6, exit: 0.5, minConfidence: 0.5 },
      mqtt: { url: broker.url, baseTopic: `ui${process.pid}`, cameraId: 'door', discovery: { enabled: false } },
      http: { port: 0, host: '127.0.0.1', ...http },
      collect: { dir: dataDir },
      log: { level: 'silent', decisions: false },
    });
    daemon = await createDaemon(config, silentLogger());
    await daemon.start();
    const d = daemon;
    await waitUntil(() => d.snapshot().counters.classified > 0, 20_000, 'first classified frame');
    const b = broker;
    return {
      daemon, store, dataDir, frames, url: `http://127.0.0.1:${daemon.httpPort}`,
      close: async () => {
        await d.stop();
        await b.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await daemon?.stop();
    await broker?.stop();
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}
