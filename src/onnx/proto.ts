import { readFile } from 'node:fs/promises';
import { ModelError, errorMessage } from '../errors.js';
import {
  onnx, toNum, elemTypeName, makeValueInfo, tensorDims,
  type Dim, type ElemType, type ModelProto, type NodeProto, type ValueInfoProto,
} from './tensor.js';

export * from './tensor.js';

/**
 * Read, describe, edit and write ONNX models (issue 2 item 2), on onnx-proto's protobufjs binding.
 * ONNX files have no magic number: a ModelProto starts with a protobuf field tag. We check that
 * first byte, and recognise common look-alikes (images, archives, Keras/tfjs files) to say what to do.
 */

/** First bytes of ModelProto fields 1-9, 14-16 as protobuf tags (field << 3 | wire type). */
const MODEL_PROTO_FIRST_TAGS = new Set([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72, 0x7a, 0x82]);

const LOOKALIKES: { test: (b: Uint8Array) => boolean; what: string; fix: string }[] = [
  { test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47, what: 'a PNG image', fix: 'pass the .onnx model file, not an image' },
  { test: (b) => b[0] === 0xff && b[1] === 0xd8, what: 'a JPEG image', fix: 'pass the .onnx model file, not an image' },
  { test: (b) => b[0] === 0x50 && b[1] === 0x4b, what: 'a ZIP archive (a PyTorch .pt checkpoint or a zipped model?)', fix: 'export PyTorch models with torch.onnx.export; unzip archives first' },
  { test: (b) => b[0] === 0x1f && b[1] === 0x8b, what: 'a gzip archive', fix: 'decompress it first' },
  { test: (b) => b[0] === 0x89 && b[1] === 0x48 && b[2] === 0x44 && b[3] === 0x46, what: 'a Keras HDF5 (.h5) file', fix: 'convert it with tf2onnx (python -m tf2onnx.convert --keras model.h5 --output model.onnx)' },
  { test: (b) => b[4] === 0x54 && b[5] === 0x46 && b[6] === 0x4c && b[7] === 0x33, what: 'a TensorFlow Lite model', fix: 'convert it with tf2onnx (--tflite)' },
  { test: (b) => b[0] === 0x7b || b[0] === 0x5b, what: 'a JSON file (a tfjs model.json?)', fix: 'pass the .onnx model file; tfjs models are converted with `edgecam export`' },
];

/** Decode ONNX bytes. `source` names the file in error messages. */
export function parseOnnx(bytes: Uint8Array, source = 'model'): ModelProto {
  if (bytes.length === 0) {
    throw new ModelError('ONNX_EMPTY', `${source} is empty (0 bytes); copy the model file again`);
  }
  const lookalike = LOOKALIKES.find((l) => l.test(bytes));
  if (lookalike) {
    throw new ModelError('ONNX_NOT_ONNX', `${source} is not an ONNX model: it looks like ${lookalike.what}; ${lookalike.fix}`);
  }
  if (!MODEL_PROTO_FIRST_TAGS.has(bytes[0]!)) {
    throw new ModelError('ONNX_BAD_MAGIC', `${source} is not an ONNX model (first byte 0x${bytes[0]!.toString(16).padStart(2, '0')} is not a ModelProto field); check that you passed the .onnx file and that it was not corrupted`);
  }
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelError('ONNX_TRUNCATED', `${source} could not be decoded as ONNX (${errorMessage(err)}); the file is truncated or corrupted: copy or download it again (${bytes.length} bytes read)`, { cause: err });
  }
  if (!model.graph || toNum(model.irVersion) <= 0) {
    throw new ModelError('ONNX_NOT_ONNX', `${source} decodes as protobuf but has no ${model.graph ? 'ir_version' : 'graph'}; it is not an ONNX model or it is truncated: check the file`);
  }
  if ((model.graph.node ?? []).length === 0 && (model.graph.output ?? []).length === 0) {
    throw new ModelError('ONNX_EMPTY_GRAPH', `${source} has an empty graph (no nodes, no outputs); the file is truncated or not a model: copy it again`);
  }
  return model;
}

/** Load a model from bytes or a file path. */
export async function loadOnnx(source: Uint8Array | string): Promise<ModelProto> {
  if (typeof source !== 'string') return parseOnnx(source);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(source);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(code === 'ENOENT' ? 'ONNX_NOT_FOUND' : 'ONNX_READ_FAILED',
      code === 'ENOENT' ? `ONNX file ${source} does not exist; check the path` : `cannot read ${source}: ${errorMessage(err)}`, { cause: err });
  }
  return parseOnnx(bytes, source);
}

/** Serialize to bytes (a plain Uint8Array, not protobufjs' Buffer, so comparisons behave the same everywhere). */
export function encodeOnnx(model: ModelProto): Uint8Array {
  const b = onnx.ModelProto.encode(model).finish();
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export interface TensorInfo { name: string; elemType: ElemType | 'undefined'; shape: Dim[] }
export interface OnnxDescription {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  initializers: { name: string; dims: number[]; elemType: ElemType | 'undefined' }[];
  nodeCount: number;
  /** Distinct op types, prefixed with their domain when not the default one (e.g. com.microsoft.QLinearAdd). */
  opTypes: string[];
}

export function valueInfoOf(v: ValueInfoProto): TensorInfo {
  const t = v.type?.tensorType;
  const shape: Dim[] = (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? toNum(d.dimValue) : '?'));
  return { name: v.name ?? '', elemType: elemTypeName(t?.elemType), shape };
}

export function describeOnnx(model: ModelProto): OnnxDescription {
  const g = model.graph ?? {};
  const initNames = new Set((g.initializer ?? []).map((i) => i.name));
  const nodes = g.node ?? [];
  return {
    irVersion: toNum(model.irVersion),
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain || 'ai.onnx', version: toNum(o.version) })),
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    // IR < 4 lists initializers among the inputs too; they are not inputs a caller feeds.
    inputs: (g.input ?? []).filter((i) => !initNames.has(i.name)).map(valueInfoOf),
    outputs: (g.output ?? []).map(valueInfoOf),
    initializers: (g.initializer ?? []).map((t) => ({ name: t.name ?? '', dims: tensorDims(t), elemType: elemTypeName(t.dataType) })),
    nodeCount: nodes.length,
    opTypes: [...new Set(nodes.map((n) => (n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '')))].sort(),
  };
}

/** True when `name` is a graph input, an initializer or some node's output. */
export function tensorExists(model: ModelProto, name: string): boolean {
  const g = model.graph ?? {};
  return (g.input ?? []).some((i) => i.name === name)
    || (g.initializer ?? []).some((i) => i.name === name)
    || (g.node ?? []).some((n) => (n.output ?? []).includes(name));
}

/** Make an inner tensor a graph output: ONNX Runtime only returns graph outputs (FIELD-NOTES). */
export function addGraphOutput(model: ModelProto, name: string, elemType: ElemType, shape: readonly Dim[]): void {
  const g = requireGraph(model);
  if ((g.output ?? []).some((o) => o.name === name)) {
    throw new ModelError('ONNX_OUTPUT_EXISTS', `the graph already has an output named ${name}; choose another name`);
  }
  if (!tensorExists(model, name)) {
    throw new ModelError('ONNX_TENSOR_NOT_FOUND', `no tensor named ${name} in the graph; list tensors with \`edgecam model inspect --json\` and pick an existing one`);
  }
  g.output = [...(g.output ?? []), makeValueInfo(name, elemType, shape)];
}

/** Append nodes (in order) after the existing ones. Every attribute must carry an explicit type. */
export function appendNodes(model: ModelProto, nodes: readonly NodeProto[]): void {
  const g = requireGraph(model);
  for (const n of nodes) {
    for (const a of n.attribute ?? []) {
      if (!a.type) {
        throw new ModelError('ONNX_ATTRIBUTE_TYPE', `attribute ${a.name} of node ${n.name ?? n.opType} has no type; build it with attr.int/attr.float/… so ONNX Runtime accepts it`);
      }
    }
    if (n.domain && !(model.opsetImport ?? []).some((o) => (o.domain ?? '') === n.domain)) {
      throw new ModelError('ONNX_OPSET_MISSING', `node ${n.name ?? n.opType} uses domain ${n.domain} that the model does not import; call ensureOpset first`);
    }
  }
  g.node = [...(g.node ?? []), ...nodes.map((n) => onnx.NodeProto.create(n))];
}

/** The opset version the model imports for `domain` ('' = default ai.onnx), or undefined. */
export function opsetVersion(model: ModelProto, domain = ''): number | undefined {
  const o = (model.opsetImport ?? []).find((x) => (x.domain ?? '') === domain || (domain === '' && x.domain === 'ai.onnx'));
  return o ? toNum(o.version) : undefined;
}

/** Import `domain` at `version` unless the model already imports it. */
export function ensureOpset(model: ModelProto, domain: string, version: number): void {
  if (opsetVersion(model, domain) === undefined) {
    model.opsetImport = [...(model.opsetImport ?? []), onnx.OperatorSetIdProto.create({ domain, version })];
  }
}

/** The node producing `tensor`, if any. */
export function producerOf(model: ModelProto, tensor: string): NodeProto | undefined {
  return (model.graph?.node ?? []).find((n) => (n.output ?? []).includes(tensor));
}

/** Nodes that read `tensor`. */
export function consumersOf(model: ModelProto, tensor: string): NodeProto[] {
  return (model.graph?.node ?? []).filter((n) => (n.input ?? []).includes(tensor));
}

function requireGraph(model: ModelProto) {
  if (!model.graph) throw new ModelError('ONNX_NO_GRAPH', 'the model has no graph; load a real ONNX model');
  return model.graph;
}
