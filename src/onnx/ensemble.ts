import { ModelError } from '../errors.js';
import { opsetVersion, valueInfoOf } from './proto.js';
import { onnx, type ModelProto, type ValueInfoProto } from './tensor.js';
import { averageTensors, graphOf, imageInput } from './view-graph.js';

/**
 * An ensemble baked into one graph: several networks trained for the same job read the same image input, and each
 * graph output is the mean of theirs. It helps when their mistakes differ; three seeds of one distilled recipe on
 * pets mostly failed on the same photos and gained nothing (README). Everything that runs model.onnx gets it without
 * knowing; the manifest's `output.views.members` only says so. The cost is the members' compute added up.
 */

const prefixFor = (k: number) => `member${k}__`;

/** Fixed dims as numbers and symbolic ones as '?' (their names may differ), to compare what two graphs accept and produce. */
const dimsOf = (v: ValueInfoProto) => JSON.stringify(valueInfoOf(v).shape.map((d) => (typeof d === 'number' ? d : '?')));

/** Refuses members that do not read the same image or answer in the same outputs, before changing anything. */
function assertCompatible(base: ModelProto, member: ModelProto, k: number): void {
  const [a, b] = [imageInput(base), imageInput(member)];
  if (a.name !== b.name || dimsOf(a) !== dimsOf(b)) {
    throw new ModelError('ENSEMBLE_MISMATCH', `member ${k + 1} reads input ${b.name} ${dimsOf(b)} but member 1 reads ${a.name} ${dimsOf(a)}; ensemble networks trained for the same input`);
  }
  const outputs = (m: ModelProto) => (graphOf(m).output ?? []).map((o) => `${o.name} ${dimsOf(o)}`).join(', ');
  if (outputs(base) !== outputs(member)) {
    throw new ModelError('ENSEMBLE_MISMATCH', `member ${k + 1} has outputs [${outputs(member)}] but member 1 has [${outputs(base)}]`);
  }
  if (opsetVersion(base) !== opsetVersion(member)) {
    throw new ModelError('ENSEMBLE_MISMATCH', `member ${k + 1} imports ONNX opset ${opsetVersion(member)} but member 1 opset ${opsetVersion(base)}; export them with the same edgecam`);
  }
  // Names inside an If/Loop body would need renaming too; edgecam's exports have none, so refuse rather than guess.
  if ((graphOf(member).node ?? []).some((n) => (n.attribute ?? []).some((x) => x.g || x.graphs?.length))) {
    throw new ModelError('ENSEMBLE_SUBGRAPH', `member ${k + 1} has control-flow subgraphs (If/Loop), which an ensemble cannot merge`);
  }
}

/** Rewrites `models[0]` in place into the ensemble of all `models` (each used once; the others are not changed) and returns it. */
export function averageModels(models: ModelProto[]): ModelProto {
  const [base, ...others] = models;
  if (!base || others.length === 0) throw new ModelError('ENSEMBLE_TOO_FEW', 'an ensemble needs two or more models');
  others.forEach((m, i) => assertCompatible(base, m, i + 1));
  const g = graphOf(base);
  const input = imageInput(base).name!;
  const outputs = (g.output ?? []).map((o) => o.name!);
  const averaged = outputs.find((name) => (g.node ?? []).some((n) => n.output?.includes(`${name}__view0`)));
  if (averaged) throw new ModelError('ENSEMBLE_VIEWS', `output "${averaged}" is already a mean over test-time scales; ensemble the plain networks and add views to the result`);
  others.forEach((member, i) => {
    const prefix = prefixFor(i + 2);
    const rename = (t: string) => (t === '' || t === input ? t : `${prefix}${t}`);
    const mg = graphOf(member);
    g.initializer = [...(g.initializer ?? []), ...(mg.initializer ?? []).map((t) => onnx.TensorProto.create({ ...t, name: rename(t.name!) }))];
    g.node = [...(g.node ?? []), ...(mg.node ?? []).map((n) => onnx.NodeProto.create({
      ...n, name: `${prefix}${n.name || n.opType}`, input: (n.input ?? []).map(rename), output: (n.output ?? []).map(rename),
    }))];
    g.valueInfo = [...(g.valueInfo ?? []), ...(mg.valueInfo ?? []).map((v) => onnx.ValueInfoProto.create({ ...v, name: rename(v.name!) }))];
  });
  for (const name of outputs) averageTensors(base, name, [name, ...others.map((_, i) => `${prefixFor(i + 2)}${name}`)]);
  return base;
}
