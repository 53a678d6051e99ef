import { readFile } from 'node:fs/promises';
import { createClassifier, type ClassifierDeps, type OrtClassifier } from '../inference/engine.js';
import type { Logger } from '../logger.js';
import { sha256Hex, validateManifest, type ModelFolder } from '../models/folder.js';
import { preprocessSpecOf, type Manifest } from '../models/manifest.js';
import { ModelStore } from '../models/store.js';
import { encodeOnnx, parseOnnx } from '../onnx/proto.js';
import { pruneToOutputs } from '../onnx/surgery.js';
import { balancedClassWeights } from './dataset.js';
import type { PreprocessFn } from './dataset-load.js';
import { EmbeddingCache, embedFiles, type EmbeddedSet } from './embeddings.js';
import { TrainingError } from './errors.js';
import { composeTransferModel, HEAD_FILE, headFileFrom, headLayers, parseHeadFile } from './head-file.js';
import { buildHead, denseLayersOf, type DenseLayerWeights } from './models.js';
import { versionFromDate } from './options.js';
import { fitModel } from './train.js';
import { fitStandardizer, foldIntoFirstLayer, standardize, type Standardizer } from './standardize.js';
import { finetuneSplit, type FinetuneSplit } from './finetune-data.js';

/**
 * Fine-tuning on the device (issue 5 items 3-4): embeddings of the labelled frames from the *active* model's
 * backbone (cached), a new dense head for the current classes plus new ones, then the gate: candidate and current
 * model both classify the held-back frames through ONNX Runtime (what would actually serve), and the candidate
 * is stored as `accepted` only if it is at least as accurate (+ margin); otherwise it is stored as `rejected`
 * with its metrics. Activation is the caller's job (the daemon swaps models; the CLI just re-points `active`).
 */

export interface FinetuneOptions {
  data: string;
  models: string;
  holdoutShare: number;
  /** The candidate needs holdout accuracy ≥ current + margin (a negative margin tolerates a small loss). */
  margin: number;
  force: boolean;
  epochs: number;
  batchSize: number;
  lr: number;
  hidden: number;
  dropout: number;
  /** L2 penalty on the head's kernels (FitOptions.weightDecay); 0 = none. */
  weightDecay: number;
  /** Also train on the left-right mirror of every training frame (never of held-back ones). */
  mirror: boolean;
  seed: number;
  cacheDir: string;
  version?: string;
}

export type FinetuneState = 'starting' | 'embedding' | 'training' | 'evaluating' | 'storing' | 'activated' | 'rejected' | 'failed';

// A type alias, not an interface, so it fits the web API's open-ended progress type (index signature).
export type FinetuneProgress = {
  state: FinetuneState;
  epoch?: number;
  epochs?: number;
  /** Training accuracy (training) or holdout accuracy (evaluating). */
  accuracy?: number;
  done?: number;
  total?: number;
  message?: string;
};

export interface FinetuneResult {
  version: string;
  dir: string;
  parentVersion: string;
  accepted: boolean;
  forced: boolean;
  reason: string;
  labels: string[];
  newClasses: string[];
  candidateAccuracy: number | null;
  currentAccuracy: number | null;
  counts: FinetuneSplit['counts'];
  /** Embeddings read from the cache vs run through the backbone (mirrors included), and how many were mirrors. */
  embeddings: { cached: number; computed: number; mirrored: number };
  seconds: number;
}

export interface FinetuneDeps {
  logger: Logger;
  preprocess: PreprocessFn;
  onProgress?: (p: FinetuneProgress) => void;
  classifierDeps?: Partial<ClassifierDeps>;
  now?: () => Date;
  /** The head's training loop; default train.ts fitModel. */
  fit?: typeof fitModel;
}

/**
 * Whether the fine-tune adds mirrored training frames. They help a plain backbone (+0.3 points) but not one with
 * test-time views: with 256 + 320 px views they scored 97.44 vs 97.74 % without (14 holdout draws, bench/README.md),
 * at twice the embedding time.
 */
export function trainsOnMirrors(mirror: boolean, active: Pick<Manifest, 'output'>): boolean {
  return mirror && !active.output.views;
}

/** The active model without its head: only the embedding output, so a new head can be attached. */
export function backboneOf(active: ModelFolder): ModelFolder {
  const emb = active.manifest.output.embedding;
  if (!emb) {
    throw new TrainingError('FINETUNE_NO_EMBEDDING', `the active model ${active.manifest.name} ${active.manifest.version} has no embedding output, so there is no backbone to fine-tune on; make the first model with \`edgecam train --arch transfer --backbone <folder>\` and activate it`);
  }
  const model = parseOnnx(active.modelBytes, `${active.dir}/model.onnx`);
  model.graph!.output = model.graph!.output!.filter((o) => o.name === emb.name);
  pruneToOutputs(model);
  return { dir: active.dir, modelBytes: encodeOnnx(model), manifest: { ...active.manifest, output: { name: emb.name, kind: 'logits', embedding: emb, ...(active.manifest.output.views ? { views: active.manifest.output.views } : {}) }, labels: Array.from({ length: emb.size }, (_, i) => String(i)) } };
}

/** Accuracy of a classifier on files through the real preprocessing + ONNX Runtime. */
async function holdoutAccuracy(deps: FinetuneDeps, classifier: OrtClassifier, split: FinetuneSplit, labels: string[]): Promise<number | null> {
  if (split.holdout.length === 0) return null;
  const spec = preprocessSpecOf(classifier.manifest);
  let correct = 0;
  for (const f of split.holdout) {
    const out = await classifier.classify(await deps.preprocess(await readFile(f.path), spec));
    const p = out.scores.probabilities;
    const best = p.indexOf(Math.max(...p));
    if (out.scores.labels[best] === labels[f.label]) correct++;
  }
  return correct / split.holdout.length;
}

export async function finetune(deps: FinetuneDeps, o: FinetuneOptions): Promise<FinetuneResult> {
  const started = performance.now();
  const progress = (p: FinetuneProgress): void => { deps.onProgress?.(p); deps.logger.info(p, `fine-tune: ${p.state}`); };
  progress({ state: 'starting' });
  const store = new ModelStore({ logger: deps.logger }, o.models);
  const activeVersion = await store.active();
  if (!activeVersion) throw new TrainingError('FINETUNE_NO_ACTIVE', `the model store ${store.root} has no active model to start from; install one with \`edgecam model install <folder>\``);
  const active = await store.load(activeVersion);
  const emb = backboneOf(active).manifest.output.embedding!;
  const split = await finetuneSplit(o.data, active.manifest.labels, o.holdoutShare);
  const cdeps = { logger: deps.logger, ...deps.classifierDeps };
  const current = await createClassifier(cdeps, { folder: active, providers: ['cpu'], intraOpThreads: 1 });
  const backboneKey = active.manifest.provenance.backboneSha256 ?? active.manifest.sha256;
  const mirrorTraining = trainsOnMirrors(o.mirror, active.manifest);
  let candidateAccuracy: number | null;
  let currentAccuracy: number | null;
  let embedded: EmbeddedSet;
  let held: EmbeddedSet;
  let standardizer: Standardizer | undefined;
  const head = buildHead({ embeddingSize: emb.size, hidden: o.hidden, dropout: o.dropout, nClasses: split.labels.length, seed: o.seed });
  try {
    const total = split.train.length + split.holdout.length;
    progress({ state: 'embedding', done: 0, total });
    // The daemon filed most plain embeddings in the cache when it kept the frames; only the rest, and the mirrors of
    // training frames (cached too, for the next fine-tune), go through the backbone. Held-back frames are never
    // mirrored: the gate scores frames as the camera sees them.
    const cache = new EmbeddingCache(o.cacheDir, backboneKey, emb.size, preprocessSpecOf(active.manifest));
    const embedDeps = (offset: number) => ({
      logger: deps.logger, preprocess: deps.preprocess, backbone: current, cache,
      onProgress: (done: number) => { if ((offset + done) % 50 === 0 || offset + done === total) deps.onProgress?.({ state: 'embedding', done: offset + done, total }); },
    });
    const spec = preprocessSpecOf(active.manifest);
    embedded = await embedFiles(embedDeps(0), split.train, { spec, size: emb.size, seed: o.seed, mirror: mirrorTraining });
    held = await embedFiles(embedDeps(split.train.length), split.holdout, { spec, size: emb.size, seed: o.seed });
    const nClasses = split.labels.length;
    // Standardised features train a head in far fewer epochs (learn/standardize.ts); the scaling is folded back below.
    standardizer = fitStandardizer(embedded.x, emb.size);
    await (deps.fit ?? fitModel)(head, { x: standardize(embedded.x, standardizer), sampleDims: [emb.size], y: embedded.y }, undefined, {
      epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, weightDecay: o.weightDecay, patience: 0, seed: o.seed, nClasses, activation: 'softmax',
      classWeights: balancedClassWeights(embedded.y, nClasses),
    }, { epochEnd: (logs) => progress({ state: 'training', epoch: logs.epoch, epochs: o.epochs, accuracy: Number(logs.acc.toFixed(4)) }) });
    progress({ state: 'evaluating' });
    const currentHead = await headOf(active, split.labels.slice(0, active.manifest.labels.length), emb.size);
    currentAccuracy = currentHead ? accuracyOf(currentHead, active.manifest.labels, held, split.labels, emb.size) : await holdoutAccuracy(deps, current, split, split.labels);
  } finally {
    await current.dispose();
  }
  const now = deps.now?.() ?? new Date();
  const version = o.version ?? `${versionFromDate(now)}-ft`;
  const layers = foldIntoFirstLayer(denseLayersOf(head), standardizer!);
  head.dispose();
  const backbone = backboneOf(active);
  const composed = composeTransferModel(backbone, layers, {
    labels: split.labels, name: active.manifest.name, version, created: now.toISOString(),
    provenance: {
      parentVersion: active.manifest.version, dataset: o.data, source: 'edgecam finetune',
      datasetSummary: Object.fromEntries(Object.entries(split.counts).map(([l, c]) => [l, c.train + c.holdout])),
    },
  });
  // The backbone is unchanged by fine-tuning: keep naming the original one (and keep its embedding cache key).
  composed.manifest.provenance = { ...composed.manifest.provenance, backboneSha256: backboneKey, backbone: active.manifest.provenance.backbone ?? composed.manifest.provenance?.backbone };
  const candidateFolder: ModelFolder = { dir: '(candidate)', modelBytes: composed.modelBytes, manifest: validateManifest({ ...composed.manifest, sha256: sha256Hex(composed.modelBytes) }) };
  candidateAccuracy = held.y.length ? accuracyOf(layers, split.labels, held, split.labels, emb.size) : null;
  // The gate scored the head on embeddings; prove the composed ONNX (what will serve) computes the same thing.
  const candidate = await createClassifier(cdeps, { folder: candidateFolder, providers: ['cpu'], intraOpThreads: 1 });
  try {
    const worst = await parity(deps, candidate, layers, held, emb.size);
    if (!(worst <= 1e-3)) throw new TrainingError('FINETUNE_PARITY', `the composed model differs from the trained head by ${worst.toExponential(2)}; this is a bug, please report it (nothing was stored)`);
  } finally {
    await candidate.dispose();
  }
  progress({ state: 'evaluating', ...(candidateAccuracy !== null ? { accuracy: candidateAccuracy } : {}) });
  const { accepted, reason } = gate(candidateAccuracy, currentAccuracy, o);
  const gateMetrics = { candidateAccuracy, currentAccuracy, margin: o.margin, holdoutFrames: split.holdout.length, trainFrames: split.train.length, counts: split.counts, forced: o.force && !gate(candidateAccuracy, currentAccuracy, { ...o, force: false }).accepted };
  composed.manifest.metrics = { holdoutAccuracy: candidateAccuracy, parentHoldoutAccuracy: currentAccuracy, gate: gateMetrics };
  progress({ state: 'storing' });
  const headFile = headFileFrom({ name: active.manifest.name, version, created: now.toISOString(), labels: split.labels, backbone: backbone.manifest, layers, provenance: composed.manifest.provenance ?? {}, metrics: composed.manifest.metrics });
  const stored = await store.add({ modelBytes: composed.modelBytes, manifest: composed.manifest, extraFiles: { [HEAD_FILE]: `${JSON.stringify(headFile)}\n` } },
    { status: accepted ? 'accepted' : 'rejected', reason, gate: gateMetrics });
  return {
    version, dir: stored.dir, parentVersion: active.manifest.version, accepted, forced: gateMetrics.forced, reason, labels: split.labels, newClasses: split.newClasses,
    candidateAccuracy, currentAccuracy, counts: split.counts,
    embeddings: { cached: embedded.cached + held.cached, computed: embedded.computed + held.computed, mirrored: mirrorTraining ? embedded.y.length / 2 : 0 },
    seconds: (performance.now() - started) / 1000,
  };
}

/** A dense head in plain JS (a few thousand multiply-adds per frame): scores of one embedding. */
export function denseForward(layers: DenseLayerWeights[], x: Float32Array): Float32Array {
  let v = x;
  for (const l of layers) {
    const out = Float32Array.from(l.bias);
    for (let i = 0; i < l.inDim; i++) {
      const xi = v[i]!;
      if (xi === 0) continue;
      for (let j = 0; j < l.outDim; j++) out[j] += xi * l.weights[i * l.outDim + j]!;
    }
    if (l.activation === 'relu') for (let j = 0; j < out.length; j++) out[j] = Math.max(0, out[j]!);
    else if (l.activation === 'sigmoid') for (let j = 0; j < out.length; j++) out[j] = 1 / (1 + Math.exp(-out[j]!));
    else if (l.activation === 'softmax') {
      const m = Math.max(...out);
      let sum = 0;
      for (let j = 0; j < out.length; j++) sum += (out[j] = Math.exp(out[j]! - m));
      for (let j = 0; j < out.length; j++) out[j] = out[j]! / sum;
    }
    v = out;
  }
  return v;
}

/** Accuracy of a head with `headLabels` on embedded frames labelled by index into `labels`. */
function accuracyOf(layers: DenseLayerWeights[], headLabels: string[], set: EmbeddedSet, labels: string[], size: number): number | null {
  if (set.y.length === 0) return null;
  let correct = 0;
  for (let i = 0; i < set.y.length; i++) {
    const p = denseForward(layers, set.x.subarray(i * size, (i + 1) * size));
    if (headLabels[p.indexOf(Math.max(...p))] === labels[set.y[i]!]) correct++;
  }
  return correct / set.y.length;
}

/** The current model's head (head.json) when it sits on the same embedding; undefined → evaluate through ORT. */
async function headOf(active: ModelFolder, labels: string[], size: number): Promise<DenseLayerWeights[] | undefined> {
  const text = await readFile(`${active.dir}/${HEAD_FILE}`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  try {
    const h = parseHeadFile(text);
    const layers = headLayers(h);
    const ok = h.labels.join('\n') === labels.join('\n') && layers[0]!.inDim === size && h.backbone.embeddingOutput === active.manifest.output.embedding?.name;
    return ok ? layers : undefined;
  } catch {
    return undefined;
  }
}

async function parity(deps: FinetuneDeps, candidate: OrtClassifier, layers: DenseLayerWeights[], set: EmbeddedSet, size: number, count = 3): Promise<number> {
  let worst = 0;
  for (let i = 0; i < Math.min(count, set.files.length); i++) {
    const out = await candidate.classify(await deps.preprocess(await readFile(set.files[i]!), preprocessSpecOf(candidate.manifest)));
    const want = denseForward(layers, out.embedding ?? set.x.subarray(i * size, (i + 1) * size));
    out.scores.probabilities.forEach((p, k) => { worst = Math.max(worst, Math.abs(p - want[k]!)); });
  }
  return worst;
}

export function gate(candidate: number | null, current: number | null, o: Pick<FinetuneOptions, 'margin' | 'force'>): { accepted: boolean; reason: string } {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  if (candidate === null || current === null) {
    return o.force ? { accepted: true, reason: 'forced: no held-back frames to compare on' } : { accepted: false, reason: 'no held-back frames to compare on (label more frames, or use --force)' };
  }
  const needed = current + o.margin;
  if (candidate + 1e-9 >= needed) return { accepted: true, reason: `gate passed: ${pct(candidate)} ≥ ${pct(current)}${o.margin ? ` ${o.margin > 0 ? '+' : '−'} ${pct(Math.abs(o.margin))}` : ''} on held-back frames` };
  if (o.force) return { accepted: true, reason: `forced past the gate: ${pct(candidate)} < ${pct(needed)}` };
  return { accepted: false, reason: `gate failed: ${pct(candidate)} < ${pct(needed)} needed on held-back frames; kept as rejected` };
}
