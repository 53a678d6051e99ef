import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { ModelError } from '../errors.js';

/**
 * Small, typed constructors for the ONNX protobuf pieces (tensors, attributes, value infos).
 * onnx-proto is CommonJS (protobufjs 6): under ESM only its default export exists.
 */
export const { onnx } = onnxProto;
export type ModelProto = OnnxTypes.ModelProto;
export type GraphProto = OnnxTypes.IGraphProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type AttributeProto = OnnxTypes.IAttributeProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;

/** protobufjs decodes int64 as Long objects when the `long` package is present. */
export type IntLike = number | { toNumber(): number };
export function toNum(v: IntLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export const ELEM_TYPES = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9,
  float16: 10, float64: 11, uint32: 12, uint64: 13, complex64: 14, complex128: 15, bfloat16: 16,
} as const;
export type ElemType = keyof typeof ELEM_TYPES;

export function elemTypeCode(t: ElemType): number {
  return ELEM_TYPES[t];
}
export function elemTypeName(code: number | null | undefined): ElemType | 'undefined' {
  const hit = (Object.entries(ELEM_TYPES) as [ElemType, number][]).find(([, c]) => c === code);
  return hit ? hit[0] : 'undefined';
}

export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

function elemTypeOfArray(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

/** An initializer tensor stored as little-endian raw_data (what exporters write). */
export function makeTensor(name: string, data: TensorData, dims: readonly number[]): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new ModelError('ONNX_TENSOR_SIZE', `tensor ${name}: dims [${dims.join(',')}] hold ${count} values but ${data.length} were given; fix the dims or the data`);
  }
  const rawData = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: elemTypeCode(elemTypeOfArray(data)), rawData });
}

/** Read an initializer's values as numbers, whichever storage field the exporter used. */
export function tensorValues(t: TensorProto): number[] {
  const type = elemTypeName(t.dataType);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (raw) {
    const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    switch (type) {
      case 'float32': return Array.from(new Float32Array(buf));
      case 'float64': return Array.from(new Float64Array(buf));
      case 'uint8': return Array.from(new Uint8Array(buf));
      case 'int8': return Array.from(new Int8Array(buf));
      case 'int32': return Array.from(new Int32Array(buf));
      case 'int64': return Array.from(new BigInt64Array(buf), (v) => Number(v));
      default: throw new ModelError('ONNX_TENSOR_TYPE', `tensor ${t.name}: reading ${type} raw data is not supported`);
    }
  }
  if (t.floatData?.length) return [...t.floatData];
  if (t.int32Data?.length) return [...t.int32Data]; // also holds uint8/int8/int16/bool per the ONNX spec
  if (t.int64Data?.length) return t.int64Data.map((v) => toNum(v));
  if (t.doubleData?.length) return [...t.doubleData];
  return [];
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => toNum(d));
}

/** Shape entries: a number is a fixed size, a string a symbolic (dynamic) dimension, e.g. 'N'. */
export type Dim = number | string;

export function makeValueInfo(name: string, elemType: ElemType, shape: readonly Dim[]): ValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'string' || d < 0 ? { dimParam: typeof d === 'string' ? d : 'N' } : { dimValue: d }));
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: elemTypeCode(elemType), shape: { dim } } },
  });
}

// Attributes: JS cannot tell 1.0 from 1, so every attribute states its type (FIELD-NOTES).
const A = onnx.AttributeProto.AttributeType;
export const attr = {
  int: (name: string, i: number): AttributeProto => ({ name, type: A.INT, i }),
  float: (name: string, f: number): AttributeProto => ({ name, type: A.FLOAT, f }),
  ints: (name: string, ints: readonly number[]): AttributeProto => ({ name, type: A.INTS, ints: [...ints] }),
  floats: (name: string, floats: readonly number[]): AttributeProto => ({ name, type: A.FLOATS, floats: [...floats] }),
  string: (name: string, s: string): AttributeProto => ({ name, type: A.STRING, s: new TextEncoder().encode(s) }),
  tensor: (name: string, t: TensorProto): AttributeProto => ({ name, type: A.TENSOR, t }),
};

/** Read an attribute value back (ints as numbers). Undefined when absent. */
export function attrValue(node: NodeProto, name: string): number | number[] | string | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  switch (a.type) {
    case A.INT: return toNum(a.i);
    case A.FLOAT: return a.f ?? 0;
    case A.INTS: return (a.ints ?? []).map((v) => toNum(v));
    case A.FLOATS: return [...(a.floats ?? [])];
    case A.STRING: return new TextDecoder().decode(a.s ?? new Uint8Array());
    default: return undefined;
  }
}
