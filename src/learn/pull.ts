import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, ModelError } from '../errors.js';
import type { Logger } from '../logger.js';
import { validateManifest, writeModelFolder, type ModelFolder } from '../models/folder.js';
import type { Manifest, ManifestInput, TestTimeViews } from '../models/manifest.js';
import { sha256Hex } from '../models/sha256.js';
import { prepareBackbone } from '../onnx/backbone.js';
import { composeTransferModel, HEAD_FILE, headLayers, parseHeadFile, type HeadFile } from './head-file.js';

/**
 * `edgecam model pull`: fetch a pinned pretrained backbone (URL + sha256 from shared/models/MODELS.md) or
 * take a local copy, prepare it (embedding output + manifest) and, given a trained head, compose the full
 * model folder. The repository ships heads only; the backbone weights come from here.
 */
export interface PinnedBackbone {
  file: string;
  bytes: number;
  sha256: string;
  /** Tried in order; every download is checked against sha256. */
  urls: string[];
  license: string;
  description: string;
}

export const PINNED_BACKBONES: Record<string, PinnedBackbone> = {
  mobilenetv2: {
    file: 'mobilenetv2-12-int8.onnx',
    bytes: 3_655_033,
    sha256: 'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
    urls: [
      // ONNX Model Zoo (upstream, Git LFS) at a pinned commit; the LFS pointer there names this sha256.
      'https://media.githubusercontent.com/media/onnx/models/b1eeaa1ac722dcc1cd1a8284bde34393dab61c3d/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx',
      'https://github.com/onnx/models/raw/b1eeaa1ac722dcc1cd1a8284bde34393dab61c3d/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx',
      // A byte-identical non-LFS copy (blob 3db83f94…), see MODELS.md.
      'https://raw.githubusercontent.com/Lawrence-lugs/MARP/4eb1e15524758aa3ba9e42edf398a71bd66ccb74/onnx_models/mobilenetv2-12-int8.onnx',
    ],
    license: 'Apache-2.0 (ONNX Model Zoo); keep its LICENSE with redistributed copies',
    description: 'MobileNetV2-1.0 int8 (ONNX Model Zoo), 224×224 NCHW, ImageNet-1k, 1280-d embedding',
  },
};

export type FetchFn = (url: string, init?: { signal?: AbortSignal }) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

export interface PullDeps {
  logger: Logger;
  fetch?: FetchFn;
  now?: () => Date;
}

export interface PullOptions {
  name: string;
  out: string;
  /** A local copy instead of downloading (still checked against the pinned sha256). */
  file?: string;
  /** A head folder (with head.json) or a head.json file: compose the full model. */
  head?: string;
  force?: boolean;
  timeoutMs?: number;
  /** Override the backbone's resize mode (its preset crops the centre; small or wide photos may do better squashed). */
  resize?: Manifest['preprocess']['resize'];
  /** Test-time views to bake into the backbone; with a head, the head's own (head.json) unless these match them. */
  views?: TestTimeViews;
}

export async function fetchPinned(deps: PullDeps, pin: PinnedBackbone, timeoutMs = 120_000): Promise<Uint8Array> {
  const doFetch = deps.fetch ?? (fetch as unknown as FetchFn);
  const failures: string[] = [];
  for (const url of pin.urls) {
    try {
      const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const sha = sha256Hex(bytes);
      if (sha !== pin.sha256) throw new Error(`sha256 ${sha} (${bytes.length} bytes), expected ${pin.sha256}`);
      deps.logger.info({ url, bytes: bytes.length }, 'backbone downloaded and verified');
      return bytes;
    } catch (err) {
      failures.push(`${url}: ${errorMessage(err)}`);
      deps.logger.warn({ url, err: errorMessage(err) }, 'backbone download failed, trying the next source');
    }
  }
  throw new ModelError('PULL_FAILED', `could not download ${pin.file}:\n  - ${failures.join('\n  - ')}\nDownload it on a machine with internet access and run again with --file <path to ${pin.file}>.`);
}

async function localPinned(path: string, pin: PinnedBackbone): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(path).catch((err: unknown) => {
    throw new ModelError('PULL_FILE_UNREADABLE', `cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }));
  const sha = sha256Hex(bytes);
  if (sha !== pin.sha256) {
    throw new ModelError('PULL_SHA_MISMATCH', `${path} has sha256 ${sha}, not the pinned ${pin.file} (${pin.sha256}); use the exact file, or prepare another model with \`edgecam backbone prepare\``);
  }
  return bytes;
}

async function readHead(path: string) {
  const file = path.endsWith('.json') ? path : join(path, HEAD_FILE);
  const text = await readFile(file, 'utf8').catch((err: unknown) => {
    throw new ModelError('HEAD_FILE_MISSING', `cannot read ${file}: ${errorMessage(err)}; pass a folder made by \`edgecam train --arch transfer\` (it holds ${HEAD_FILE})`, { cause: err });
  });
  return parseHeadFile(text, file);
}

const viewsText = (v: TestTimeViews | undefined) => JSON.stringify({ scales: v?.scales ? [...v.scales].sort((a, b) => a - b) : [], mirror: v?.mirror ?? false });

/** The head's test-time views win (its weights were fit on those features); asking for others is an error. */
function viewsFor(asked: TestTimeViews | undefined, head: HeadFile | undefined): TestTimeViews | undefined {
  if (!head) return asked;
  if (asked && viewsText(asked) !== viewsText(head.backbone.views)) {
    throw new ModelError('HEAD_VIEWS_MISMATCH', `the head was trained on backbone features with test-time views ${viewsText(head.backbone.views)}, not ${viewsText(asked)}; drop --tta-scales/--tta-mirror (the head's are used) or train a head on the backbone you want`);
  }
  return head.backbone.views;
}

/** Fetch or read, verify, prepare; then compose with the head when one is given. Returns the written folder. */
export async function pullModel(deps: PullDeps, o: PullOptions): Promise<{ folder: ModelFolder; composed: boolean }> {
  const pin = PINNED_BACKBONES[o.name];
  if (!pin) throw new ModelError('PULL_UNKNOWN_MODEL', `unknown model "${o.name}"; known: ${Object.keys(PINNED_BACKBONES).join(', ')}`);
  const head = o.head ? await readHead(o.head) : undefined;
  const original = o.file ? await localPinned(o.file, pin) : await fetchPinned(deps, pin, o.timeoutMs);
  const created = (deps.now?.() ?? new Date()).toISOString();
  const views = viewsFor(o.views, head);
  const prepared = await prepareBackbone(original, { name: o.name, version: pin.sha256.slice(0, 12), created, source: pin.file, ...(views ? { views } : {}) });
  if (o.resize) {
    const { resizeShorterTo: _drop, ...rest } = prepared.manifest.preprocess;
    prepared.manifest.preprocess = o.resize === 'shorter-side-then-center-crop' ? prepared.manifest.preprocess : { ...rest, resize: o.resize };
  }
  if (!head) {
    return { folder: await writeModelFolder(o.out, { modelBytes: prepared.modelBytes, manifest: prepared.manifest, overwrite: o.force }), composed: false };
  }
  if (head.backbone.sourceSha256 && head.backbone.sourceSha256 !== pin.sha256) {
    throw new ModelError('HEAD_BACKBONE_MISMATCH', `the head was trained on a backbone prepared from sha256 ${head.backbone.sourceSha256}, not ${pin.file} (${pin.sha256})`);
  }
  const backbone: ModelFolder = { dir: `${o.name} (pulled)`, manifest: validateManifest({ ...prepared.manifest, sha256: sha256Hex(prepared.modelBytes) }), modelBytes: prepared.modelBytes };
  if (backbone.manifest.sha256 !== head.backbone.sha256) {
    deps.logger.warn({ trainedOn: head.backbone.sha256, now: backbone.manifest.sha256 }, 'the prepared backbone differs byte-wise from the one the head was trained on (same source file; a newer prepare step); check accuracy with `edgecam evaluate`');
  }
  const composed = composeTransferModel(backbone, headLayers(head), {
    labels: head.labels, name: head.name, version: head.version, created,
    provenance: { ...(head.provenance as ManifestInput['provenance']), source: `edgecam model pull ${o.name} --head ${o.head}` },
    metrics: head.metrics,
    ...(head.preprocess ? { preprocess: validateManifest({ ...backbone.manifest, preprocess: head.preprocess }).preprocess } : {}),
  });
  const folder = await writeModelFolder(o.out, { modelBytes: composed.modelBytes, manifest: composed.manifest, overwrite: o.force, extraFiles: { [HEAD_FILE]: `${JSON.stringify(head)}\n` } });
  return { folder, composed: true };
}

