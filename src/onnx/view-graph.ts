import { ModelError } from '../errors.js';
import { consumersOf } from './proto.js';
import { makeTensor, onnx, type GraphProto, type ModelProto, type ValueInfoProto } from './tensor.js';

/** Shared pieces of the test-time view transforms (mirror.ts, scales.ts): the graph, its image input, output averaging. */

export function graphOf(model: ModelProto): GraphProto {
  if (!model.graph) throw new ModelError('ONNX_NO_GRAPH', 'the model has no graph; load a real ONNX model');
  return model.graph;
}

/** The single non-initializer graph input. */
export function imageInput(model: ModelProto): ValueInfoProto {
  const g = graphOf(model);
  const initializers = new Set((g.initializer ?? []).map((t) => t.name));
  const inputs = (g.input ?? []).filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) throw new ModelError('VIEWS_INPUT', `test-time views need a graph with one image input; this one has ${inputs.length}`);
  return inputs[0]!;
}

/**
 * A graph output that a view transform may average: it must exist and nothing inside the graph may read it
 * (a head on the embedding must be attached after the views, so it sees the average).
 */
export function averagedOutput(model: ModelProto, name: string): ValueInfoProto {
  const out = (graphOf(model).output ?? []).find((x) => x.name === name);
  if (!out) throw new ModelError('VIEWS_OUTPUT', `the graph has no output "${name}" to average`);
  if (consumersOf(model, name).length) {
    throw new ModelError('VIEWS_OUTPUT', `output "${name}" feeds other nodes of the graph; add test-time views to the backbone before attaching a head`);
  }
  return out;
}

/** Graph output `name` ← mean of `tensors` (one of which may be `name` itself as computed now). */
export function averageTensors(model: ModelProto, name: string, tensors: string[]): void {
  averagedOutput(model, name);
  const g = graphOf(model);
  const own = `${name}__view0`;
  for (const n of g.node ?? []) n.output = (n.output ?? []).map((t) => (t === name ? own : t));
  const inputs = tensors.map((t) => (t === name ? own : t));
  g.initializer = [...(g.initializer ?? []), makeTensor(`${name}__views_inverse`, Float32Array.of(1 / inputs.length), [])];
  g.node = [...(g.node ?? []),
    onnx.NodeProto.create({ opType: 'Sum', name: `${name}_sum_views`, input: inputs, output: [`${name}__views_sum`] }),
    onnx.NodeProto.create({ opType: 'Mul', name: `${name}_mean_views`, input: [`${name}__views_sum`, `${name}__views_inverse`], output: [name] }),
  ];
}
