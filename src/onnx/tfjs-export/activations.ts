import { attr, heldAxis, unsupported, type ExportContext, type Layer, type Value } from './context.js';

/**
 * tfjs activation names (as `getConfig().activation` serialises them) → ONNX ops.
 * Element-wise ones work in either layout; softmax/logSoftmax act on the last tfjs axis, which is
 * axis 1 when a rank-4 tensor is held NCHW.
 */
export const SUPPORTED_ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'softmax', 'logSoftmax', 'tanh', 'elu', 'selu',
  'softplus', 'softsign', 'hardSigmoid', 'swish', 'mish', 'gelu'] as const;

export function applyActivation(ctx: ExportContext, layer: Layer, v: Value, activation: unknown, softmaxAxis = -1): Value {
  const name = activation === undefined || activation === null ? 'linear' : String(activation);
  const x = v.name;
  const out = () => ctx.out(layer, name);
  const same = (n: string): Value => ({ ...v, name: n });
  switch (name) {
    case 'linear': return v;
    case 'relu': return same(ctx.op('Relu', [x], [], out()));
    case 'relu6': return same(ctx.b.clip(x, 0, 6, out()));
    case 'sigmoid': return same(ctx.op('Sigmoid', [x], [], out()));
    case 'tanh': return same(ctx.op('Tanh', [x], [], out()));
    case 'softmax': return same(ctx.op('Softmax', [x], [attr.int('axis', heldAxis(v, softmaxAxis))], out()));
    case 'logSoftmax': return same(ctx.op('LogSoftmax', [x], [attr.int('axis', heldAxis(v, softmaxAxis))], out()));
    case 'elu': return same(ctx.op('Elu', [x], [attr.float('alpha', 1)], out()));
    // tfjs' SELU constants equal ONNX's defaults in float32.
    case 'selu': return same(ctx.op('Selu', [x], [], out()));
    case 'softplus': return same(ctx.op('Softplus', [x], [], out()));
    case 'softsign': return same(ctx.op('Softsign', [x], [], out()));
    // tfjs: clip(0.2 x + 0.5, 0, 1), the ONNX defaults made explicit.
    case 'hardSigmoid': return same(ctx.op('HardSigmoid', [x], [attr.float('alpha', 0.2), attr.float('beta', 0.5)], out()));
    case 'swish': return same(ctx.op('Mul', [x, ctx.op('Sigmoid', [x])], [], out()));
    case 'mish': return same(ctx.op('Mul', [x, ctx.op('Tanh', [ctx.op('Softplus', [x])])], [], out()));
    case 'gelu': {
      // 0.5 x (1 + erf(x / √2)), the exact form tfjs uses.
      const erf = ctx.op('Erf', [ctx.op('Div', [x, ctx.scalar(Math.SQRT2, 'sqrt2')])]);
      const onePlus = ctx.op('Add', [erf, ctx.scalar(1, 'one')]);
      return same(ctx.op('Mul', [ctx.op('Mul', [x, onePlus]), ctx.scalar(0.5, 'half')], [], out()));
    }
    default:
      throw unsupported(layer, `uses activation "${name}" (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`);
  }
}
