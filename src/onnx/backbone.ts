import { ModelError } from '../errors.js';
import type { ManifestInput, TestTimeViews } from '../models/manifest.js';
import { mirrorAverage } from './mirror.js';
import { averageScales } from './scales.js';
import { sha256Hex } from '../models/sha256.js';
import { probeWithOnnxRuntime, type ProbeRunner } from './probe.js';
import { encodeOnnx, parseOnnx } from './proto.js';
import { exposeEmbedding, type EmbeddingTensor } from './surgery.js';
import { checkLabelCount, graphInput, graphOutput, wrapManifest, type PreprocessFlags } from './wrap.js';
import type { ModelProto } from './tensor.js';

/**
 * `edgecam backbone prepare`: an ImageNet classifier becomes a backbone folder whose model returns
 * both its logits and a float pooled embedding, with a manifest for its preprocessing.
 */
export interface PrepareBackboneOptions extends PreprocessFlags {
  /** Tensor to expose; found automatically when absent. */
  embedding?: string;
  /** Class names (e.g. the ImageNet synset); "0", "1", … when absent. */
  labels?: string[];
  name: string;
  version?: string;
  created: string;
  /** Where the model came from, for provenance (a file name). */
  source?: string;
  /** Test-time views baked into the graph: both outputs become means over them (onnx/scales.ts, onnx/mirror.ts). */
  views?: TestTimeViews;
}

export interface PreparedBackbone {
  modelBytes: Uint8Array;
  manifest: Omit<ManifestInput, 'sha256'>;
  embedding: EmbeddingTensor & { output: string; size: number };
}

export async function prepareBackbone(originalBytes: Uint8Array, o: PrepareBackboneOptions, deps: { probe?: ProbeRunner } = {}): Promise<PreparedBackbone> {
  const model = parseOnnx(originalBytes, o.source ?? 'model');
  if (model.graph!.output!.some((x) => x.name === 'embedding')) {
    throw new ModelError('BACKBONE_ALREADY_PREPARED', `${o.source ?? 'the model'} already has an "embedding" output; it is already a prepared backbone`);
  }
  const output = graphOutput(model);
  const width = output.shape[output.shape.length - 1];
  const labels = o.labels ?? Array.from({ length: typeof width === 'number' ? width : 0 }, (_, i) => String(i));
  if (labels.length === 0) throw new ModelError('BACKBONE_LABELS', `output "${output.name}" has a dynamic width; pass --labels`);
  checkLabelCount(output, labels);
  const exposed = exposeEmbedding(model, o.embedding);
  const views = addTestTimeViews(model, o.views, [output.name, exposed.output]);
  const manifest = wrapManifest(model, {
    ...o,
    preset: o.preset ?? 'imagenet-backbone',
    labels,
    outputName: output.name,
    provenance: { source: o.source, backbone: o.name, backboneSha256: sha256Hex(originalBytes), command: 'backbone prepare' },
  });
  let modelBytes = encodeOnnx(model);
  // ONNX Runtime must load and run what we write; the run also tells the embedding width when the graph does not.
  const probe = deps.probe ?? probeWithOnnxRuntime;
  const dims = await probe(modelBytes, { name: manifest.input.name, dims: [1, ...manifest.input.shape.slice(1)] });
  const size = dims[exposed.output]?.[1];
  if (!size || dims[exposed.output]!.length !== 2) {
    throw new ModelError('BACKBONE_EMBEDDING_SHAPE', `the exposed embedding "${exposed.tensor}" has shape [${dims[exposed.output]?.join(',')}] after flattening; pick the pooled feature tensor with --embedding`);
  }
  if (exposed.size === undefined) {
    // Write the measured width into the graph output instead of the placeholder symbol.
    const out = model.graph!.output!.find((x) => x.name === exposed.output)!;
    out.type!.tensorType!.shape!.dim![1] = { dimValue: size };
    modelBytes = encodeOnnx(model);
  }
  manifest.output = { ...manifest.output, embedding: { name: exposed.output, size }, ...(views ? { views } : {}) };
  return { modelBytes, manifest, embedding: { ...exposed, size } };
}

/** Mirror first (the pair shares one batch), then scales (each scale runs the mirrored pair). Undefined when none. */
function addTestTimeViews(model: ModelProto, views: TestTimeViews | undefined, outputs: string[]): TestTimeViews | undefined {
  if (!views?.mirror && !views?.scales) return undefined;
  const { layout } = graphInput(model);
  if (views.mirror) mirrorAverage(model, { layout, outputs });
  if (views.scales) averageScales(model, { layout, scales: views.scales, outputs });
  return { ...(views.scales ? { scales: [...new Set(views.scales)].sort((a, b) => a - b) } : {}), ...(views.mirror ? { mirror: true } : {}) };
}
