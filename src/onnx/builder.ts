import { ModelError } from '../errors.js';
import { encodeOnnx } from './proto.js';
import {
  onnx, attr, makeTensor, makeValueInfo,
  type AttributeProto, type Dim, type ElemType, type ModelProto, type NodeProto, type TensorData, type TensorProto, type ValueInfoProto,
} from './tensor.js';

/**
 * Builds small real ONNX graphs in code, so tests and the tfjs exporter never need downloaded files.
 * Every op returns the name of its output tensor; weights can be given as data (an initializer with a
 * generated name is created) or as the name of an existing tensor. Attributes are typed explicitly.
 */

/** A tensor operand: an existing tensor name, or data that becomes a new initializer. */
export type TensorRef = string | { data: TensorData; dims: readonly number[] };

export interface ConvOptions {
  weight: TensorRef;
  bias?: TensorRef;
  /** [top, left, bottom, right] for 2-D (ONNX order: all begins, then all ends). */
  pads?: readonly number[];
  strides?: readonly number[];
  dilations?: readonly number[];
  group?: number;
  out?: string;
}
export interface PoolOptions { kernel: readonly number[]; strides?: readonly number[]; pads?: readonly number[]; countIncludePad?: boolean; out?: string }
export interface BatchNormOptions { scale: TensorRef; bias: TensorRef; mean: TensorRef; variance: TensorRef; epsilon?: number; out?: string }
export interface GemmOptions { transA?: boolean; transB?: boolean; alpha?: number; beta?: number; out?: string }

/** IR version that goes with an ai.onnx opset (onnx/docs/Versioning.md). */
export function irVersionFor(opset: number): number {
  if (opset <= 8) return 3;
  if (opset <= 9) return 4;
  if (opset <= 10) return 5;
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export class GraphBuilder {
  readonly opset: number;
  private readonly graphName: string;
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly nodes: NodeProto[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly extraOpsets = new Map<string, number>();

  constructor(options: { opset?: number; name?: string } = {}) {
    this.opset = options.opset ?? 13;
    this.graphName = options.name ?? 'edgecam';
  }

  /** A fresh tensor/node name starting with `prefix` (prefix itself when unused). */
  uniqueName(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name = n === 0 ? prefix : `${prefix}_${n}`;
    while (this.used.has(name)) name = `${prefix}_${++n}`;
    this.counters.set(prefix, n + 1);
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new ModelError('ONNX_DUPLICATE_NAME', `tensor name ${name} is already used in this graph; pick another`);
    this.used.add(name);
    return name;
  }

  input(name: string, shape: readonly Dim[], elemType: ElemType = 'float32'): string {
    this.inputs.push(makeValueInfo(this.claim(name), elemType, shape));
    return name;
  }

  initializer(name: string, data: TensorData, dims: readonly number[]): string {
    this.initializers.push(makeTensor(this.claim(name), data, dims));
    return name;
  }

  /** Resolve a TensorRef to a tensor name, creating an initializer named after `hint` for data. */
  ref(r: TensorRef, hint: string): string {
    if (typeof r === 'string') return r;
    const name = this.uniqueName(hint);
    this.initializers.push(makeTensor(name, r.data, r.dims));
    return name;
  }

  /** Import a non-default operator domain (e.g. com.microsoft) for node(). */
  useDomain(domain: string, version: number): void {
    this.extraOpsets.set(domain, version);
  }

  /** Any op. Returns its output names (`outputs` of them). */
  node(opType: string, inputs: readonly string[], attributes: AttributeProto[] = [], opts: { outputs?: number; out?: readonly string[]; domain?: string } = {}): string[] {
    const count = opts.out?.length ?? opts.outputs ?? 1;
    const lower = opType.toLowerCase();
    const outputs = Array.from({ length: count }, (_, i) => (opts.out?.[i] ? this.claim(opts.out[i]!) : this.uniqueName(count === 1 ? lower : `${lower}_out${i}`)));
    this.nodes.push(onnx.NodeProto.create({
      opType, input: [...inputs], output: outputs, name: this.uniqueName(`${opType}_node`), attribute: attributes,
      ...(opts.domain ? { domain: opts.domain } : {}),
    }));
    return outputs;
  }

  private op(opType: string, inputs: readonly string[], attributes: AttributeProto[] = [], out?: string): string {
    return this.node(opType, inputs, attributes, out ? { out: [out] } : {})[0]!;
  }

  conv(x: string, o: ConvOptions): string {
    const inputs = [x, this.ref(o.weight, 'conv_W')];
    if (o.bias) inputs.push(this.ref(o.bias, 'conv_B'));
    const attrs: AttributeProto[] = [attr.int('group', o.group ?? 1)];
    if (o.pads) attrs.push(attr.ints('pads', o.pads));
    if (o.strides) attrs.push(attr.ints('strides', o.strides));
    if (o.dilations) attrs.push(attr.ints('dilations', o.dilations));
    return this.op('Conv', inputs, attrs, o.out);
  }

  relu(x: string, out?: string): string { return this.op('Relu', [x], [], out); }
  sigmoid(x: string, out?: string): string { return this.op('Sigmoid', [x], [], out); }
  identity(x: string, out?: string): string { return this.op('Identity', [x], [], out); }
  globalAveragePool(x: string, out?: string): string { return this.op('GlobalAveragePool', [x], [], out); }
  add(a: string, b: TensorRef, out?: string): string { return this.op('Add', [a, this.ref(b, 'add_B')], [], out); }
  mul(a: string, b: TensorRef, out?: string): string { return this.op('Mul', [a, this.ref(b, 'mul_B')], [], out); }
  matMul(a: string, b: TensorRef, out?: string): string { return this.op('MatMul', [a, this.ref(b, 'matmul_B')], [], out); }

  /** Clip to [min, max]; opset ≥ 11 takes them as inputs, older opsets as float attributes. */
  clip(x: string, min: number, max: number, out?: string): string {
    if (this.opset < 11) return this.op('Clip', [x], [attr.float('min', min), attr.float('max', max)], out);
    const lo = this.ref({ data: new Float32Array([min]), dims: [] }, 'clip_min');
    const hi = this.ref({ data: new Float32Array([max]), dims: [] }, 'clip_max');
    return this.op('Clip', [x, lo, hi], [], out);
  }

  private pool(opType: string, x: string, o: PoolOptions, extra: AttributeProto[]): string {
    const attrs = [attr.ints('kernel_shape', o.kernel), ...extra];
    if (o.strides) attrs.push(attr.ints('strides', o.strides));
    if (o.pads) attrs.push(attr.ints('pads', o.pads));
    return this.op(opType, [x], attrs, o.out);
  }
  maxPool(x: string, o: PoolOptions): string { return this.pool('MaxPool', x, o, []); }
  averagePool(x: string, o: PoolOptions): string {
    return this.pool('AveragePool', x, o, [attr.int('count_include_pad', o.countIncludePad ? 1 : 0)]);
  }

  batchNormalization(x: string, o: BatchNormOptions): string {
    const inputs = [x, this.ref(o.scale, 'bn_scale'), this.ref(o.bias, 'bn_bias'), this.ref(o.mean, 'bn_mean'), this.ref(o.variance, 'bn_var')];
    return this.op('BatchNormalization', inputs, [attr.float('epsilon', o.epsilon ?? 1e-5)], o.out);
  }

  flatten(x: string, axis = 1, out?: string): string { return this.op('Flatten', [x], [attr.int('axis', axis)], out); }

  reshape(x: string, shape: readonly number[], out?: string): string {
    const s = this.ref({ data: BigInt64Array.from(shape, (v) => BigInt(v)), dims: [shape.length] }, 'reshape_shape');
    return this.op('Reshape', [x, s], [], out);
  }

  transpose(x: string, perm: readonly number[], out?: string): string { return this.op('Transpose', [x], [attr.ints('perm', perm)], out); }

  gemm(a: string, b: TensorRef, c: TensorRef | undefined, o: GemmOptions = {}): string {
    const inputs = [a, this.ref(b, 'gemm_B')];
    if (c) inputs.push(this.ref(c, 'gemm_C'));
    const attrs = [attr.float('alpha', o.alpha ?? 1), attr.float('beta', o.beta ?? 1), attr.int('transA', o.transA ? 1 : 0), attr.int('transB', o.transB ? 1 : 0)];
    return this.op('Gemm', inputs, attrs, o.out);
  }

  softmax(x: string, axis = -1, out?: string): string { return this.op('Softmax', [x], [attr.int('axis', axis)], out); }

  concat(inputs: readonly string[], axis: number, out?: string): string { return this.op('Concat', inputs, [attr.int('axis', axis)], out); }

  /** y = saturate(round(x / scale) + zeroPoint); the zero point's array type (Uint8Array/Int8Array) picks the output type. */
  quantizeLinear(x: string, scale: TensorRef, zeroPoint: TensorRef, out?: string): string {
    return this.op('QuantizeLinear', [x, this.ref(scale, 'q_scale'), this.ref(zeroPoint, 'q_zero_point')], [], out);
  }
  dequantizeLinear(x: string, scale: TensorRef, zeroPoint?: TensorRef, out?: string): string {
    const inputs = [x, this.ref(scale, 'dq_scale')];
    if (zeroPoint) inputs.push(this.ref(zeroPoint, 'dq_zero_point'));
    return this.op('DequantizeLinear', inputs, [], out);
  }

  /** Declare an existing tensor a graph output; with `as`, an Identity renames it. */
  output(tensor: string, shape: readonly Dim[], opts: { elemType?: ElemType; as?: string } = {}): string {
    const name = opts.as && opts.as !== tensor ? this.identity(tensor, opts.as) : tensor;
    this.outputs.push(makeValueInfo(name, opts.elemType ?? 'float32', shape));
    return name;
  }

  toModel(): ModelProto {
    if (this.outputs.length === 0) throw new ModelError('ONNX_NO_OUTPUT', 'the graph has no outputs; call output() before toModel()');
    const opsetImport = [{ domain: '', version: this.opset }, ...[...this.extraOpsets].map(([domain, version]) => ({ domain, version }))];
    return onnx.ModelProto.create({
      irVersion: irVersionFor(this.opset),
      producerName: 'edgecam',
      producerVersion: '1',
      opsetImport,
      graph: { name: this.graphName, input: this.inputs, output: this.outputs, initializer: this.initializers, node: this.nodes },
    });
  }

  toBytes(): Uint8Array {
    return encodeOnnx(this.toModel());
  }
}
