import { ModelError } from '../errors.js';
import { RESIZE_MODES, type Manifest, type ManifestInput } from '../models/manifest.js';
import { isPresetName, presetPreprocess, PRESET_NAMES, type PresetName } from '../models/presets.js';
import { describeOnnx, producerOf, type TensorInfo } from './proto.js';
import type { ModelProto } from './tensor.js';

/**
 * Turn an ONNX classifier trained elsewhere (Keras via tf2onnx, PyTorch torch.onnx.export) into a
 * manifest: input name, layout and size come from the graph; preprocessing from a preset and flags.
 */

export interface GraphInput {
  name: string;
  /** Manifest form: dynamic dimensions are -1. */
  shape: [number, number, number, number];
  layout: 'NCHW' | 'NHWC';
  size: [number, number];
}

/** Read the image input from the graph: NHWC when the last dim is 3, NCHW when dim 1 is 3. */
export function graphInput(model: ModelProto, opts: { name?: string; preferLayout?: 'NCHW' | 'NHWC'; size?: [number, number] } = {}): GraphInput {
  const inputs = describeOnnx(model).inputs;
  const list = inputs.map((i) => `"${i.name}" [${i.shape.join(',')}]`).join(', ');
  const input = opts.name ? inputs.find((i) => i.name === opts.name) : inputs.length === 1 ? inputs[0] : undefined;
  if (!input) {
    throw new ModelError('WRAP_INPUT', opts.name ? `the graph has no input "${opts.name}" (inputs: ${list})` : `the graph has ${inputs.length} inputs (${list}); name the image input with --input`);
  }
  if (input.elemType !== 'float32') throw new ModelError('WRAP_INPUT', `input "${input.name}" is ${input.elemType}; edgecam feeds float32 images, re-export the model with a float input`);
  if (input.shape.length !== 4) throw new ModelError('WRAP_INPUT', `input "${input.name}" has shape [${input.shape.join(',')}]; edgecam needs a 4-D image input [N,3,H,W] or [N,H,W,3]`);
  const nhwc = input.shape[3] === 3, nchw = input.shape[1] === 3;
  if (!nhwc && !nchw) throw new ModelError('WRAP_INPUT', `input "${input.name}" has shape [${input.shape.join(',')}]: neither dim 1 nor dim 3 is 3 colour channels; edgecam needs an RGB image input`);
  const layout = nhwc && nchw ? (opts.preferLayout ?? 'NCHW') : nhwc ? 'NHWC' : 'NCHW';
  const [h, w] = layout === 'NHWC' ? [input.shape[1], input.shape[2]] : [input.shape[2], input.shape[3]];
  const fixed = (d: unknown): d is number => typeof d === 'number' && d > 0;
  let size: [number, number];
  if (fixed(h) && fixed(w)) size = [h, w];
  else if (opts.size) size = opts.size;
  else throw new ModelError('WRAP_INPUT_SIZE', `input "${input.name}" [${input.shape.join(',')}] has a dynamic height/width; give the training size with --size HxW (e.g. --size 224x224)`);
  const dims = input.shape.map((d, i) => (fixed(d) ? d : i === 0 ? -1 : layout === 'NHWC' ? [0, size[0], size[1], 3][i]! : [0, 3, size[0], size[1]][i]!));
  return { name: input.name, shape: dims as GraphInput['shape'], layout, size };
}

const KIND_PASS_THROUGH = new Set(['Identity', 'Reshape', 'Flatten', 'Squeeze', 'Cast']);

/** softmax / sigmoid when the output comes straight from that op (through reshapes), logits otherwise. */
export function detectOutputKind(model: ModelProto, outputName: string): 'softmax' | 'sigmoid' | 'logits' {
  let p = producerOf(model, outputName);
  while (p && KIND_PASS_THROUGH.has(p.opType ?? '')) p = producerOf(model, p.input![0]!);
  if (p?.opType === 'Softmax') return 'softmax';
  if (p?.opType === 'Sigmoid') return 'sigmoid';
  return 'logits';
}

/** The classifier output: --output, else the first graph output. */
export function graphOutput(model: ModelProto, name?: string): TensorInfo {
  const outputs = describeOnnx(model).outputs;
  const o = name ? outputs.find((x) => x.name === name) : outputs[0];
  if (!o) throw new ModelError('WRAP_OUTPUT', `the graph has no output${name ? ` "${name}"` : ''} (outputs: ${outputs.map((x) => `"${x.name}"`).join(', ')})`);
  return o;
}

/** Refuse a label list whose length differs from the output width. */
export function checkLabelCount(output: TensorInfo, labels: readonly string[]): void {
  const width = output.shape[output.shape.length - 1];
  if (typeof width === 'number' && width !== labels.length) {
    throw new ModelError('WRAP_LABELS', `${labels.length} labels given but output "${output.name}" [${output.shape.join(',')}] has ${width} classes; give exactly ${width} labels, in the order the model was trained`);
  }
}

/**
 * Labels from a file's text, one per line. ImageNet synset lines ("n01440764 tench, Tinca tinca")
 * become their first name ("tench"); names that repeat (ImageNet has two "crane"s) get their synset id.
 */
export function parseLabelsText(text: string, source = 'labels'): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const empty = lines.findIndex((l) => l === '');
  if (empty >= 0) throw new ModelError('LABELS_EMPTY_LINE', `${source} line ${empty + 1} is empty; every line must name one class`);
  const synset = lines.length > 0 && lines.every((l) => /^n\d{8} \S/.test(l));
  const names = synset ? lines.map((l) => l.slice(10).split(',')[0]!.trim()) : lines;
  const count = new Map<string, number>();
  for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
  if (synset) return names.map((n, i) => (count.get(n)! > 1 ? `${n} (${lines[i]!.slice(0, 9)})` : n));
  const dup = names.find((n) => count.get(n)! > 1);
  if (dup !== undefined) throw new ModelError('LABELS_DUPLICATE', `${source}: label "${dup}" appears more than once; labels must be unique`);
  return names;
}

export interface PreprocessFlags {
  preset?: string;
  mean?: number[];
  std?: number[];
  scale?: number;
  resize?: string;
  resizeShorterTo?: number;
}

/** Preset (default by layout: NHWC → keras, NCHW → torchvision) with explicit flags on top. */
export function preprocessFor(input: GraphInput, flags: PreprocessFlags): { preprocess: Manifest['preprocess']; preset: PresetName } {
  const preset = flags.preset ?? (input.layout === 'NHWC' ? 'keras' : 'torchvision');
  if (!isPresetName(preset)) throw new ModelError('PRESET_UNKNOWN', `unknown preset "${preset}"; use one of: ${PRESET_NAMES.join(', ')}`);
  const p = { ...presetPreprocess(preset, input.size) };
  const triple = (v: number[] | undefined, what: string) => {
    if (!v) return undefined;
    if (v.length === 1) return [v[0]!, v[0]!, v[0]!];
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new ModelError('WRAP_FLAG', `--${what} needs one number or three (R,G,B), got ${v.join(',')}`);
    return v;
  };
  p.mean = triple(flags.mean, 'mean') ?? p.mean;
  p.std = triple(flags.std, 'std') ?? p.std;
  if (flags.scale !== undefined) p.scale = flags.scale;
  if (flags.resize !== undefined) {
    if (!(RESIZE_MODES as readonly string[]).includes(flags.resize)) throw new ModelError('WRAP_FLAG', `--resize must be one of ${RESIZE_MODES.join(', ')}`);
    p.resize = flags.resize as Manifest['preprocess']['resize'];
  }
  if (flags.resizeShorterTo !== undefined) p.resizeShorterTo = flags.resizeShorterTo;
  if (p.resize === 'shorter-side-then-center-crop') p.resizeShorterTo ??= Math.round((Math.min(...input.size) * 256) / 224);
  else delete p.resizeShorterTo;
  return { preprocess: p, preset };
}

/** Parse "1/255", "0.5" or "127.5" into a number. */
export function parseScale(text: string): number {
  const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+))?\s*$/.exec(text);
  const v = m ? Number(m[1]) / (m[2] ? Number(m[2]) : 1) : NaN;
  if (!Number.isFinite(v) || v <= 0) throw new ModelError('WRAP_FLAG', `--scale must be a positive number or fraction like 1/255, got "${text}"`);
  return v;
}

export interface WrapOptions extends PreprocessFlags {
  labels: string[];
  name: string;
  version?: string;
  created: string;
  inputName?: string;
  outputName?: string;
  size?: [number, number];
  colorOrder?: 'RGB' | 'BGR';
  provenance?: ManifestInput['provenance'];
}

/** Everything but sha256 (writeModelFolder fills it in). */
export function wrapManifest(model: ModelProto, o: WrapOptions): Omit<ManifestInput, 'sha256'> {
  const input = graphInput(model, { name: o.inputName, size: o.size });
  const output = graphOutput(model, o.outputName);
  checkLabelCount(output, o.labels);
  const { preprocess, preset } = preprocessFor(input, o);
  return {
    name: o.name,
    version: o.version ?? '1',
    created: o.created,
    labels: o.labels,
    input: { name: input.name, shape: input.shape, layout: input.layout, channels: 3, colorOrder: o.colorOrder ?? 'RGB', dtype: 'float32' },
    preprocess,
    output: { name: output.name, kind: detectOutputKind(model, output.name) },
    provenance: { command: `model wrap --preset ${preset}`, ...o.provenance },
  };
}

/** `--labels` value: a file with one label per line, or a comma-separated list. */
export async function readLabelsArg(spec: string): Promise<string[]> {
  const { readFile, stat } = await import('node:fs/promises');
  const st = await stat(spec).catch(() => undefined);
  if (st?.isFile()) return parseLabelsText(await readFile(spec, 'utf8'), spec);
  if (!spec.includes(',') && /[/\\]|\.txt$/.test(spec)) {
    throw new ModelError('LABELS_NOT_FOUND', `labels file ${spec} does not exist; pass a file with one label per line or a list like --labels cat,dog`);
  }
  return parseLabelsText(spec.split(',').map((s) => s.trim()).join('\n'), '--labels');
}
