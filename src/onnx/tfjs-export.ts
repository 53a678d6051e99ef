import type * as tfTypes from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';
import { GraphBuilder } from './builder.js';
import { ExportContext, type Value } from './tfjs-export/context.js';
import { convertContainer, firstLayer } from './tfjs-export/graph.js';
import { measureParity } from './tfjs-export/parity.js';
import type { Dim } from './tensor.js';

export { SUPPORTED_LAYERS, finalActivation } from './tfjs-export/graph.js';
export { loadLayersModelFromDir, saveLayersModelToDir } from './tfjs-export/model-dir.js';

/**
 * tfjs layers model → ONNX (issue 4 item 4), checked on every export: ONNX Runtime and tfjs run the
 * same random inputs and the largest absolute difference must stay within 1e-4.
 */

export const PARITY_TOLERANCE = 1e-4;

export interface ExportOptions {
  /** Graph input name (default 'input'). */
  inputName?: string;
  /** Graph output name (default 'output'; further outputs get `_1`, `_2`, …). */
  outputName?: string;
  /** Layout of the ONNX input: NHWC (default, what tfjs/Keras/Teachable Machine feed) or NCHW. */
  layout?: 'NHWC' | 'NCHW';
  /** ai.onnx opset (default 13; ≥ 13 for Softmax on any axis). */
  opset?: number;
  /** Spatial [height, width] used for the parity inputs when the model's input size is dynamic. */
  paritySize?: [number, number];
  /** Random input batches compared (default 3, batch 2 each). */
  paritySamples?: number;
  /** Range of the random inputs; default [0, 255] when the model starts with Rescaling, else [-1, 1]. */
  parityRange?: [number, number];
  /** Largest acceptable difference (default and maximum 1e-4). */
  parityTolerance?: number;
  /**
   * A binary Keras classifier ends in one sigmoid unit p = P(second class). With this set, such an
   * output becomes [1 − p, p] so it lines up with two labels like any other classifier.
   */
  twoClassFromSigmoid?: boolean;
}

export interface ExportResult {
  modelBytes: Uint8Array;
  inputName: string;
  outputName: string;
  outputNames: string[];
  /** ONNX input shape, batch -1 (and -1 for dynamic sizes): [-1, H, W, C] for NHWC, [-1, C, H, W] for NCHW. */
  inputShape: number[];
  /** ONNX shape of the first output, batch -1. */
  outputShape: number[];
  layout: 'NHWC' | 'NCHW';
  parityMaxAbsDiff: number;
}

function toOnnxShape(shape: readonly (number | null)[], layout: 'NHWC' | 'NCHW'): number[] {
  const s = shape.map((d) => (d === null ? -1 : d));
  return layout === 'NCHW' && s.length === 4 ? [s[0]!, s[3]!, s[1]!, s[2]!] : s;
}

function symbolic(shape: readonly number[]): Dim[] {
  return shape.map((d, i) => (d >= 0 ? d : i === 0 ? 'N' : `d${i}`));
}

export async function exportLayersModelToOnnx(model: tfTypes.LayersModel, opts: ExportOptions = {}): Promise<ExportResult> {
  const layout = opts.layout ?? 'NHWC';
  const inputName = opts.inputName ?? 'input';
  const baseOutput = opts.outputName ?? 'output';
  const tolerance = Math.min(opts.parityTolerance ?? PARITY_TOLERANCE, PARITY_TOLERANCE);
  if (model.inputs.length !== 1) {
    throw new ModelError('EXPORT_INPUTS', `model "${model.name}" has ${model.inputs.length} inputs; only single-input models are exported`);
  }
  const tfjsInShape = [...model.inputs[0]!.shape];
  const inputShape = toOnnxShape(tfjsInShape, layout);
  const b = new GraphBuilder({ opset: opts.opset ?? 13, name: model.name });
  b.input(inputName, symbolic(inputShape));
  const ctx = new ExportContext(b);
  const rank = tfjsInShape.length;
  const input: Value = { name: inputName, rank, layout: layout === 'NCHW' && rank === 4 ? 'NCHW' : 'plain' };
  const outs = convertContainer(ctx, model, [input]);
  const outputNames = outs.map((_, i) => (i === 0 ? baseOutput : `${baseOutput}_${i}`));
  const outputShapes = model.outputs.map((o) => toOnnxShape([...o.shape], layout));
  const expandFirst = opts.twoClassFromSigmoid === true && outs[0]!.rank === 2 && outputShapes[0]![1] === 1;
  outs.forEach((v, i) => {
    // Outputs come back in the input's convention: tfjs order for NHWC, channels-first for NCHW.
    let held = v.rank === 4 ? (layout === 'NCHW' ? ctx.nchw(v, model as unknown as tfTypes.layers.Layer) : ctx.plain(v)) : v;
    if (i === 0 && expandFirst) {
      const complement = ctx.op('Sub', [ctx.scalar(1, 'one'), held.name]);
      held = { ...held, name: b.concat([complement, held.name], 1) };
      outputShapes[0] = [outputShapes[0]![0]!, 2];
    }
    b.output(held.name, symbolic(outputShapes[i]!), { as: outputNames[i]! });
  });
  const modelBytes = b.toBytes();

  const concrete = tfjsInShape.map((d, i) => {
    if (i === 0) return 2;
    if (d !== null) return d;
    const fromOpt = opts.paritySize?.[i - 1];
    if (fromOpt === undefined) throw new ModelError('EXPORT_DYNAMIC_SIZE', `model "${model.name}" has a dynamic input size ${JSON.stringify(tfjsInShape)}; pass paritySize [height, width] so the export can be checked`);
    return fromOpt;
  });
  const startsWithRescaling = firstLayer(model)?.getClassName() === 'Rescaling';
  const parityMaxAbsDiff = await measureParity(model, modelBytes, {
    inputName, outputNames, tfjsInputShape: concrete, layout, twoClassFirstOutput: expandFirst,
    samples: opts.paritySamples ?? 3, range: opts.parityRange ?? (startsWithRescaling ? [0, 255] : [-1, 1]), seed: 1234,
  });
  if (!(parityMaxAbsDiff <= tolerance)) {
    throw new ModelError('EXPORT_PARITY', `the ONNX export of "${model.name}" differs from tfjs by ${parityMaxAbsDiff.toExponential(2)} (allowed ${tolerance.toExponential(0)}); this is an exporter bug for one of its layers, please report it with the model`);
  }
  return { modelBytes, inputName, outputName: outputNames[0]!, outputNames, inputShape, outputShape: outputShapes[0]!, layout, parityMaxAbsDiff };
}
