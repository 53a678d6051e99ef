import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelError, errorMessage } from '../errors.js';
import { MANIFEST_FILE, MODEL_FILE, manifestMismatches, parseManifestText } from '../models/folder.js';
import type { Manifest } from '../models/manifest.js';
import { sha256Hex } from '../models/sha256.js';
import { describeOnnx, parseOnnx, type OnnxDescription } from './proto.js';
import { findEmbeddingTensor } from './surgery.js';
import { detectOutputKind } from './wrap.js';

/** What `edgecam model inspect` reports, for a model folder or a bare .onnx file. */
export interface ModelReport {
  path: string;
  kind: 'folder' | 'onnx';
  model: { file: string; sizeBytes: number; sha256: string };
  graph: Omit<OnnxDescription, 'initializers'> & { initializerCount: number; parameterCount: number };
  /** Output kind guessed from the graph (Softmax/Sigmoid as last op, else logits). */
  detectedOutputKind: 'softmax' | 'sigmoid' | 'logits';
  manifest?: Manifest;
  /** The declared embedding output (prepared backbones, transfer models). */
  embedding?: { name: string; size: number };
  /** Test-time views the graph averages over (manifest output.views). */
  views?: NonNullable<Manifest['output']['views']>;
  /** For a bare classifier: the tensor `backbone prepare` would expose. */
  embeddingCandidate?: { tensor: string; size?: number; quantized: boolean };
  labels?: string[];
  preprocessing?: Manifest['preprocess'] & { layout: string; colorOrder: string };
  /** Ways the folder is broken (invalid manifest, disagreement with the graph, checksum). */
  problems: string[];
}

export async function inspectModel(path: string): Promise<ModelReport> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new ModelError('INSPECT_NOT_FOUND', `${abs} does not exist; pass a model folder or an .onnx file`);
  const isFolder = st.isDirectory();
  const file = isFolder ? join(abs, MODEL_FILE) : abs;
  const bytes = new Uint8Array(await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new ModelError('INSPECT_NO_MODEL', err.code === 'ENOENT' ? `${file} is missing; a model folder holds ${MODEL_FILE} and ${MANIFEST_FILE}` : `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }));
  const model = parseOnnx(bytes, file);
  const { initializers, ...graph } = describeOnnx(model);
  const report: ModelReport = {
    path: abs,
    kind: isFolder ? 'folder' : 'onnx',
    model: { file, sizeBytes: bytes.length, sha256: sha256Hex(bytes) },
    graph: { ...graph, initializerCount: initializers.length, parameterCount: initializers.reduce((s, i) => s + i.dims.reduce((a, b) => a * b, 1), 0) },
    detectedOutputKind: detectOutputKind(model, graph.outputs[0]?.name ?? ''),
    problems: [],
  };
  if (!isFolder) {
    try {
      const e = findEmbeddingTensor(model);
      report.embeddingCandidate = { tensor: e.tensor, ...(e.size ? { size: e.size } : {}), quantized: !!e.quantization };
    } catch {
      // not an ImageNet-style classifier: nothing to suggest
    }
    return report;
  }
  try {
    const manifest = parseManifestText(await readFile(join(abs, MANIFEST_FILE), 'utf8'), join(abs, MANIFEST_FILE));
    report.manifest = manifest;
    report.labels = manifest.labels;
    report.preprocessing = { ...manifest.preprocess, layout: manifest.input.layout, colorOrder: manifest.input.colorOrder };
    if (manifest.output.embedding) report.embedding = manifest.output.embedding;
    if (manifest.output.views) report.views = manifest.output.views;
    report.problems.push(...manifestMismatches(manifest, model, bytes));
  } catch (err) {
    report.problems.push(err instanceof ModelError ? err.message : `cannot read ${MANIFEST_FILE}: ${errorMessage(err)}`);
  }
  return report;
}

const shape = (s: (number | string)[]) => `[${s.join(',')}]`;
const mb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`);

/** Human-readable table of a report. */
export function formatReport(r: ModelReport): string {
  const rows: [string, string][] = [];
  const m = r.manifest;
  rows.push(['model', `${r.model.file} (${mb(r.model.sizeBytes)})`]);
  rows.push(['sha256', r.model.sha256]);
  if (m) rows.push(['name', `${m.name} version ${m.version} (created ${m.created})`]);
  rows.push(['opset', `${r.graph.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}; IR ${r.graph.irVersion}; ${r.graph.nodeCount} nodes; ${r.graph.parameterCount.toLocaleString('en-US')} parameters${r.graph.producer ? `; by ${r.graph.producer}` : ''}`]);
  for (const i of r.graph.inputs) rows.push(['input', `${i.name} ${i.elemType} ${shape(i.shape)}${m && m.input.name === i.name ? ` ${m.input.layout} ${m.input.colorOrder}` : ''}`]);
  for (const o of r.graph.outputs) {
    const role = m?.output.name === o.name ? ` ← class scores (${m.output.kind})` : m?.output.embedding?.name === o.name ? ' ← embedding' : '';
    rows.push(['output', `${o.name} ${o.elemType} ${shape(o.shape)}${role}`]);
  }
  if (!m) rows.push(['kind', `${r.detectedOutputKind} (detected from the graph)`]);
  if (r.embedding) rows.push(['embedding', `${r.embedding.name}, ${r.embedding.size} values`]);
  if (r.views) rows.push(['views', `outputs averaged in the graph over ${[r.views.members ? `${r.views.members} networks` : '', r.views.scales ? `${r.views.scales.join(' + ')} px` : '', r.views.mirror ? 'the left-right mirror' : ''].filter(Boolean).join(' and ')}`]);
  if (r.embeddingCandidate) rows.push(['embedding?', `${r.embeddingCandidate.tensor}${r.embeddingCandidate.size ? ` (${r.embeddingCandidate.size} values)` : ''}${r.embeddingCandidate.quantized ? ', quantized' : ''}: what \`edgecam backbone prepare\` would expose`]);
  if (r.labels) rows.push(['labels', `${r.labels.length}: ${r.labels.slice(0, 8).join(', ')}${r.labels.length > 8 ? ', …' : ''}`]);
  const p = r.preprocessing;
  if (p) {
    const resize = p.resize === 'shorter-side-then-center-crop' ? `shorter side → ${p.resizeShorterTo}, centre crop` : p.resize;
    rows.push(['preprocess', `${resize} to ${p.size[0]}x${p.size[1]}, ${p.layout} ${p.colorOrder}, (x·${+p.scale.toPrecision(6)} − [${p.mean.join(', ')}]) / [${p.std.join(', ')}]`]);
  }
  if (m?.provenance && Object.keys(m.provenance).length) rows.push(['provenance', Object.entries(m.provenance).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')]);
  for (const problem of r.problems) rows.push(['PROBLEM', problem]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}
