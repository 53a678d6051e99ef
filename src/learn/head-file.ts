import { z } from 'zod';
import { ModelError } from '../errors.js';
import type { ModelFolder } from '../models/folder.js';
import { testTimeViewsSchema, type Manifest, type ManifestInput } from '../models/manifest.js';
import { encodeOnnx, parseOnnx } from '../onnx/proto.js';
import { attachDenseHead } from '../onnx/surgery.js';
import type { DenseLayerWeights } from './models.js';

/**
 * head.json: a trained transfer head without its backbone (a few KB instead of the backbone's MB), so
 * the repository can ship the pets head while the MobileNetV2 weights are fetched by `edgecam model pull`.
 * compose() = backbone folder + head → the single-ONNX model folder the daemon runs.
 */

export const HEAD_FILE = 'head.json';
export const HEAD_OUTPUT = 'scores';

const f32 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function fromB64(s: string, n: number, what: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  if (b.byteLength !== n * 4) throw new ModelError('HEAD_FILE_INVALID', `head.json: ${what} has ${b.byteLength / 4} values, expected ${n}`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const layerSchema = z.object({
  inDim: z.number().int().positive(),
  outDim: z.number().int().positive(),
  activation: z.enum(['relu', 'softmax', 'sigmoid', 'linear']),
  weights: z.string(),
  bias: z.string(),
}).strict();

export const headFileSchema = z.object({
  format: z.literal('edgecam-dense-head'),
  formatVersion: z.literal(1),
  name: z.string().min(1),
  version: z.string().min(1),
  created: z.string(),
  labels: z.array(z.string().min(1)).min(2),
  backbone: z.object({
    name: z.string(),
    version: z.string(),
    /** sha256 of the prepared backbone model.onnx the head was trained on. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** sha256 of the original file it was prepared from (e.g. mobilenetv2-12-int8.onnx), when known. */
    sourceSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    embeddingOutput: z.string(),
    embeddingSize: z.number().int().positive(),
    /** Test-time views baked into the backbone the head was trained on; `model pull` bakes in the same. */
    views: testTimeViewsSchema.optional(),
  }).strict(),
  layers: z.array(layerSchema).min(1),
  /** The preprocessing the training embeddings were made with; composition gives the full model this one. */
  preprocess: z.record(z.string(), z.unknown()).optional(),
  provenance: z.record(z.string(), z.unknown()).default({}),
  metrics: z.record(z.string(), z.unknown()).default({}),
}).strict();

export type HeadFile = z.output<typeof headFileSchema>;

export function headFileFrom(o: { name: string; version: string; created: string; labels: string[]; backbone: Manifest; layers: DenseLayerWeights[]; provenance?: Record<string, unknown>; metrics?: Record<string, unknown> }): HeadFile {
  const emb = o.backbone.output.embedding;
  if (!emb) throw new ModelError('BACKBONE_NO_EMBEDDING', `backbone "${o.backbone.name}" has no embedding output in its manifest; prepare it with \`edgecam backbone prepare\``);
  return {
    format: 'edgecam-dense-head', formatVersion: 1, name: o.name, version: o.version, created: o.created, labels: o.labels,
    backbone: {
      name: o.backbone.name, version: o.backbone.version, sha256: o.backbone.sha256,
      ...(o.backbone.provenance.backboneSha256 ? { sourceSha256: o.backbone.provenance.backboneSha256 } : {}),
      embeddingOutput: emb.name, embeddingSize: emb.size,
      ...(o.backbone.output.views ? { views: o.backbone.output.views } : {}),
    },
    layers: o.layers.map((l) => ({ inDim: l.inDim, outDim: l.outDim, activation: l.activation, weights: f32(l.weights), bias: f32(l.bias) })),
    preprocess: { ...o.backbone.preprocess },
    provenance: o.provenance ?? {},
    metrics: o.metrics ?? {},
  };
}

export function parseHeadFile(text: string, source = HEAD_FILE): HeadFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelError('HEAD_FILE_INVALID', `${source} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const r = headFileSchema.safeParse(json);
  if (!r.success) throw new ModelError('HEAD_FILE_INVALID', `${source} is not an edgecam head file: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export function headLayers(h: HeadFile): DenseLayerWeights[] {
  return h.layers.map((l, i) => ({
    inDim: l.inDim, outDim: l.outDim, activation: l.activation,
    weights: fromB64(l.weights, l.inDim * l.outDim, `layer ${i} weights`),
    bias: fromB64(l.bias, l.outDim, `layer ${i} bias`),
  }));
}

export interface ComposeOptions {
  labels: string[];
  name: string;
  version: string;
  created: string;
  provenance?: ManifestInput['provenance'];
  metrics?: Record<string, unknown>;
  /** Preprocessing the head was trained with (head.json), when it differs from the backbone folder's. */
  preprocess?: Manifest['preprocess'];
}

/** Backbone graph + dense head → one ONNX with the backbone's input/preprocessing and a softmax `scores` output. */
export function composeTransferModel(backbone: ModelFolder, layers: DenseLayerWeights[], o: ComposeOptions): { modelBytes: Uint8Array; manifest: Omit<ManifestInput, 'sha256'> } {
  const bm = backbone.manifest;
  const emb = bm.output.embedding;
  if (!emb) throw new ModelError('BACKBONE_NO_EMBEDDING', `${backbone.dir} has no embedding output in its manifest; prepare it with \`edgecam backbone prepare\``);
  if (layers[0]!.inDim !== emb.size) {
    throw new ModelError('HEAD_BACKBONE_MISMATCH', `the head expects ${layers[0]!.inDim}-wide embeddings but backbone ${bm.name} gives ${emb.size}; use the backbone the head was trained on`);
  }
  if (layers.at(-1)!.outDim !== o.labels.length) throw new ModelError('HEAD_SHAPE', `the head outputs ${layers.at(-1)!.outDim} scores for ${o.labels.length} labels`);
  const composed = attachDenseHead(parseOnnx(backbone.modelBytes, `${backbone.dir}/model.onnx`), {
    embeddingOutput: emb.name,
    layers: layers.map((l) => ({ weights: l.weights, bias: l.bias, inDim: l.inDim, outDim: l.outDim, activation: l.activation })),
    outputName: HEAD_OUTPUT,
  });
  const source = bm.provenance.backboneSha256 ? `, prepared from sha256 ${bm.provenance.backboneSha256}` : '';
  return {
    modelBytes: encodeOnnx(composed),
    manifest: {
      name: o.name, version: o.version, created: o.created, labels: o.labels,
      input: bm.input, preprocess: o.preprocess ?? bm.preprocess,
      output: { name: HEAD_OUTPUT, kind: 'softmax', embedding: emb, ...(bm.output.views ? { views: bm.output.views } : {}) },
      provenance: { ...o.provenance, backbone: `${bm.name} ${bm.version}${source}`, backboneSha256: bm.sha256 },
      metrics: o.metrics ?? {},
    },
  };
}
