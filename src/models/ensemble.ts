import { isDeepStrictEqual } from 'node:util';
import { ModelError } from '../errors.js';
import { averageModels } from '../onnx/ensemble.js';
import { mirrorAverage } from '../onnx/mirror.js';
import { encodeOnnx, parseOnnx } from '../onnx/proto.js';
import type { ProbeRunner } from '../onnx/probe.js';
import { writeModelFolder, type ModelFolder } from './folder.js';
import type { Manifest } from './manifest.js';

/**
 * `edgecam model ensemble`: model folders of networks trained for the same job → one folder whose model.onnx
 * averages them (onnx/ensemble.ts), optionally over the left-right mirror too. The members must agree on
 * everything the daemon reads from a manifest (labels, input, preprocessing, output), since the result has one.
 */

export interface EnsembleOptions {
  out: string;
  name?: string;
  version?: string;
  created: string;
  mirror?: boolean;
  command?: string;
  force?: boolean;
}

/**
 * What a manifest promises the daemon; members that differ here would need different images or give other labels.
 * (Embeddings and views are refused outright, so they are not compared.)
 */
const contract = (m: Manifest) => ({ labels: m.labels, input: m.input, preprocess: m.preprocess, output: { name: m.output.name, kind: m.output.kind } });

export async function ensembleFolders(members: ModelFolder[], o: EnsembleOptions, probe: ProbeRunner): Promise<ModelFolder> {
  if (members.length < 2) throw new ModelError('ENSEMBLE_TOO_FEW', `an ensemble needs two or more model folders, got ${members.length}`);
  const first = members[0]!.manifest;
  for (const [k, m] of members.entries()) {
    if (m.manifest.output.views) {
      throw new ModelError('ENSEMBLE_VIEWS', `${m.dir} already averages test-time views or networks; ensemble plain models (add --mirror here instead)`);
    }
    if (m.manifest.output.embedding) {
      throw new ModelError('ENSEMBLE_EMBEDDING', `${m.dir} has an embedding output; the embeddings of different networks do not live in one space, so only classifiers can be ensembled`);
    }
    const [want, got] = [contract(first), contract(m.manifest)];
    const differing = (Object.keys(want) as Array<keyof typeof want>).filter((key) => !isDeepStrictEqual(want[key], got[key]));
    if (differing.length) {
      throw new ModelError('ENSEMBLE_MISMATCH', `${m.dir} (member ${k + 1}) differs from ${members[0]!.dir} in ${differing.join(', ')}; ensemble models trained for the same labels, input size and preprocessing`);
    }
  }
  const model = averageModels(members.map((m) => parseOnnx(m.modelBytes, m.dir)));
  if (o.mirror) mirrorAverage(model, { layout: first.input.layout, outputs: (model.graph?.output ?? []).map((x) => x.name!) });
  const modelBytes = encodeOnnx(model);
  await probe(modelBytes, { name: first.input.name, dims: [1, ...first.input.shape.slice(1)] });
  const { sha256: _old, ...rest } = first;
  return writeModelFolder(o.out, {
    modelBytes,
    overwrite: o.force,
    manifest: {
      ...rest,
      name: o.name ?? first.name,
      version: o.version ?? `${first.version}-ensemble${members.length}`,
      created: o.created,
      output: { ...first.output, views: { members: members.length, ...(o.mirror ? { mirror: true } : {}) } },
      provenance: {
        ...(first.provenance.dataset ? { dataset: first.provenance.dataset } : {}),
        source: `mean of ${members.map((m) => `${m.manifest.name} ${m.manifest.version} (sha256 ${m.manifest.sha256.slice(0, 12)})`).join(', ')}`,
        ...(o.command ? { command: o.command } : {}),
      },
      metrics: {},
    },
  });
}
