import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importClassFolders } from '../../src/collect/labels.js';
import { sha256Hex, validateManifest } from '../../src/models/folder.js';
import { ModelStore } from '../../src/models/store.js';
import type { TestTimeViews } from '../../src/models/manifest.js';
import { prepareBackbone } from '../../src/onnx/backbone.js';
import { composeTransferModel } from '../../src/learn/head-file.js';
import type { DenseLayerWeights } from '../../src/learn/models.js';
import { silentLogger } from '../../src/logger.js';
import { tinyImagenetLikeOnnx } from '../fakes/onnx-fixtures.js';
import { writeColourDataset } from './synthetic.js';

/**
 * A store whose active version is a real transfer model (tiny conv backbone + dense head, composed into one ONNX
 * with an `embedding` output, exactly like `edgecam train --arch transfer` makes) and a collection folder of
 * labelled colour frames. The head is all zeros, so the current model says the first label for everything.
 */
export async function transferFixture(o: { labels?: string[]; counts?: Record<string, number>; views?: TestTimeViews } = {}): Promise<{ root: string; models: string; data: string; store: ModelStore }> {
  const root = await mkdtemp(join(tmpdir(), 'edgecam-ft-'));
  const tiny = tinyImagenetLikeOnnx({ inputSize: 16, embeddingSize: 8, seed: 3 });
  const prepared = await prepareBackbone(tiny.bytes, { name: 'tiny-backbone', created: '2024-01-01T00:00:00.000Z', preset: 'keras', resize: 'squash', ...(o.views ? { views: o.views } : {}) });
  const backbone = { dir: join(root, 'backbone'), modelBytes: prepared.modelBytes, manifest: validateManifest({ ...prepared.manifest, sha256: sha256Hex(prepared.modelBytes) }) };
  const labels = o.labels ?? ['red', 'blue', 'green'];
  const layers: DenseLayerWeights[] = [{ inDim: 8, outDim: labels.length, activation: 'softmax', weights: new Float32Array(8 * labels.length), bias: new Float32Array(labels.length) }];
  const composed = composeTransferModel(backbone, layers, { labels, name: 'colours', version: 'v1', created: '2024-01-01T00:00:00.000Z' });
  const models = join(root, 'models');
  const store = new ModelStore({ logger: silentLogger() }, models);
  await store.add({ modelBytes: composed.modelBytes, manifest: composed.manifest }, { status: 'installed' });
  await store.activate('v1');
  const src = await writeColourDataset(join(root, 'src'), o.counts ?? { red: 15, blue: 15, green: 15 }, 16, 5);
  const data = join(root, 'data');
  await importClassFolders(data, src);
  return { root, models, data, store };
}
