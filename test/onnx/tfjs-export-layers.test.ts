import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { SUPPORTED_ACTIVATIONS } from '../../src/onnx/tfjs-export/activations.js';
import { assertExportParity, randomizeWeights, seq, useCpuBackend } from './tfjs-export-helpers.js';

/** One tiny model per layer type: ONNX Runtime must match tfjs within 1e-4 (issue 4 item 9). */

const L = tf.layers;
before(async () => { await useCpuBackend(); });

describe('convolutions', () => {
  test('Conv2D valid, bias, relu, on a non-square input', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [7, 9, 3], filters: 5, kernelSize: 3, activation: 'relu' })]));
  });
  test('Conv2D same, stride 2, on even and odd sizes (asymmetric pads)', async () => {
    for (const [h, w] of [[8, 8], [7, 9], [6, 5]]) {
      await assertExportParity(seq([L.conv2d({ inputShape: [h!, w!, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same' })]));
    }
  });
  test('Conv2D same with a 4×2 kernel, strides [2, 1], no bias', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [9, 8, 2], filters: 3, kernelSize: [4, 2], strides: [2, 1], padding: 'same', useBias: false })]));
  });
  test('Conv2D with dilation 2, same padding', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [10, 10, 3], filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' })]));
  });
  test('DepthwiseConv2D, depth multiplier 2, same, stride 2', async () => {
    await assertExportParity(seq([L.depthwiseConv2d({ inputShape: [8, 7, 3], kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' })]));
  });
  test('DepthwiseConv2D valid, relu6 activation', async () => {
    await assertExportParity(seq([L.depthwiseConv2d({ inputShape: [6, 6, 4], kernelSize: 3, activation: 'relu6' })]));
  });
  test('SeparableConv2D, multiplier 2, same', async () => {
    await assertExportParity(seq([L.separableConv2d({ inputShape: [8, 8, 3], filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' })]));
  });
});

describe('pooling and padding', () => {
  test('MaxPooling2D valid 2×2', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [9, 8, 3], filters: 3, kernelSize: 1 }), L.maxPooling2d({ poolSize: 2 })]));
  });
  test('MaxPooling2D same, pool 3, stride 2, odd size', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [7, 7, 3], filters: 3, kernelSize: 1 }), L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })]));
  });
  test('AveragePooling2D same (padding not counted), pool 3, stride 2', async () => {
    await assertExportParity(seq([L.averagePooling2d({ inputShape: [7, 8, 3], poolSize: 3, strides: 2, padding: 'same' })]));
  });
  test('AveragePooling2D valid', async () => {
    await assertExportParity(seq([L.averagePooling2d({ inputShape: [6, 6, 2], poolSize: 2 })]));
  });
  test('GlobalAveragePooling2D and GlobalMaxPooling2D', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [5, 6, 3], filters: 4, kernelSize: 3 }), L.globalAveragePooling2d({})]));
    await assertExportParity(seq([L.conv2d({ inputShape: [5, 6, 3], filters: 4, kernelSize: 3 }), L.globalMaxPooling2d({})]));
  });
  test('ZeroPadding2D with asymmetric padding, then a conv', async () => {
    await assertExportParity(seq([L.zeroPadding2d({ inputShape: [5, 5, 2], padding: [[1, 2], [0, 3]] }), L.conv2d({ filters: 2, kernelSize: 3 })]));
  });
});

describe('normalisation and scaling', () => {
  test('BatchNormalization on a conv output (inference form, random statistics)', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3 }), L.batchNormalization({ epsilon: 1e-3 })]));
  });
  test('BatchNormalization on a Dense output, without centre and scale', async () => {
    await assertExportParity(seq([L.dense({ inputShape: [6], units: 5 }), L.batchNormalization({ center: false, scale: false })]));
  });
  test('Rescaling with scale and offset', async () => {
    await assertExportParity(seq([L.rescaling({ inputShape: [4, 4, 3], scale: 1 / 127.5, offset: -1 }), L.conv2d({ filters: 2, kernelSize: 3 })]), { parityRange: [0, 255] });
  });
});

describe('dense, reshaping and activations', () => {
  test('Dense with every supported activation', async () => {
    for (const activation of SUPPORTED_ACTIVATIONS) {
      await assertExportParity(seq([L.dense({ inputShape: [6], units: 4, activation: activation as 'relu' })]));
    }
  });
  test('Activation layers on a rank-4 tensor (softmax over channels)', async () => {
    for (const activation of SUPPORTED_ACTIVATIONS) {
      await assertExportParity(seq([L.conv2d({ inputShape: [4, 5, 3], filters: 3, kernelSize: 1 }), L.activation({ activation: activation as 'relu' })]));
    }
  });
  test('ReLU (with and without maxValue), LeakyReLU, ELU (tfjs allows alpha 1 only), ThresholdedReLU, Softmax layers', async () => {
    const conv = () => L.conv2d({ inputShape: [4, 4, 3], filters: 3, kernelSize: 1 });
    await assertExportParity(seq([conv(), L.reLU({ maxValue: 0.5 })]));
    await assertExportParity(seq([conv(), L.reLU()]));
    await assertExportParity(seq([conv(), L.leakyReLU({ alpha: 0.2 })]));
    await assertExportParity(seq([conv(), L.elu()]));
    await assertExportParity(seq([conv(), L.thresholdedReLU({ theta: 0.1 })]));
    await assertExportParity(seq([conv(), L.softmax({ axis: -1 })]));
    await assertExportParity(seq([L.dense({ inputShape: [5], units: 4 }), L.softmax()]));
  });
  test('Dense on a rank-4 conv output (last axis), then Flatten and Dense', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [4, 5, 3], filters: 3, kernelSize: 1 }), L.dense({ units: 2 }), L.flatten(), L.dense({ units: 3, activation: 'softmax' })]));
  });
  test('Flatten after a conv, then Dense', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [5, 4, 3], filters: 3, kernelSize: 2 }), L.flatten(), L.dense({ units: 4 })]));
  });
  test('Reshape of a conv output, then a conv on the reshaped map', async () => {
    await assertExportParity(seq([L.conv2d({ inputShape: [4, 4, 3], filters: 4, kernelSize: 1 }), L.reshape({ targetShape: [8, 2, 4] }), L.conv2d({ filters: 2, kernelSize: 2 }), L.reshape({ targetShape: [14] }), L.dense({ units: 2 })]));
  });
  test('Dropout is the identity, also as the last layer', async () => {
    await assertExportParity(seq([L.dense({ inputShape: [5], units: 3 }), L.dropout({ rate: 0.5 })]));
  });
});

describe('functional models', () => {
  function branches(): { input: tf.SymbolicTensor; a: tf.SymbolicTensor; b: tf.SymbolicTensor } {
    const input = tf.input({ shape: [6, 6, 3] });
    const a = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    const b = L.conv2d({ filters: 4, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    return { input, a, b };
  }
  for (const [name, make] of [['Add', () => L.add()], ['Multiply', () => L.multiply()], ['Average', () => L.average()],
    ['Maximum', () => L.maximum()], ['Minimum', () => L.minimum()], ['Concatenate', () => L.concatenate()]] as const) {
    test(`${name} of two conv branches, then Flatten and Dense`, async () => {
      const { input, a, b } = branches();
      const merged = (make() as tf.layers.Layer).apply([a, b]) as tf.SymbolicTensor;
      const out = L.dense({ units: 3, activation: 'softmax' }).apply(L.flatten().apply(merged)) as tf.SymbolicTensor;
      const m = tf.model({ inputs: input, outputs: out });
      randomizeWeights(m);
      await assertExportParity(m);
    });
  }
  test('Concatenate of a rank-4 and a reshaped plain tensor along height (axis 1)', async () => {
    const { input, a } = branches();
    const flat = L.reshape({ targetShape: [6, 6, 4] }).apply(L.flatten().apply(a)) as tf.SymbolicTensor;
    const merged = L.concatenate({ axis: 1 }).apply([a, flat]) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: L.globalAveragePooling2d({}).apply(merged) as tf.SymbolicTensor });
    randomizeWeights(m);
    await assertExportParity(m);
  });
  test('a residual block (Conv-BN-ReLU + skip Add) exported with an NCHW input', async () => {
    const input = tf.input({ shape: [8, 8, 4] });
    let x = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor;
    x = L.batchNormalization().apply(x) as tf.SymbolicTensor;
    x = L.add().apply([L.reLU().apply(x) as tf.SymbolicTensor, input]) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: x });
    randomizeWeights(m);
    await assertExportParity(m, { layout: 'NCHW' });
  });
});

test('a combined CNN (Rescaling, Conv-BN-ReLU-MaxPool ×2, Flatten, Dense, Dropout, softmax) in NHWC and NCHW', async () => {
  const m = seq([
    L.rescaling({ inputShape: [32, 32, 3], scale: 1 / 255 }),
    L.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }), L.batchNormalization(), L.reLU(), L.maxPooling2d({ poolSize: 2 }),
    L.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), L.maxPooling2d({ poolSize: 2 }),
    L.flatten(), L.dense({ units: 16, activation: 'relu' }), L.dropout({ rate: 0.3 }), L.dense({ units: 3, activation: 'softmax' }),
  ]);
  await assertExportParity(m, { parityRange: [0, 255] });
  await assertExportParity(m, { layout: 'NCHW', parityRange: [0, 255] });
});

/**
 * Keras' MobileNetV2 structure (what Teachable Machine truncates): ZeroPadding2D + 'valid' stride-2
 * convs, inverted residual blocks (expand 1×1 → depthwise → project 1×1, BN + ReLU6), skip Adds.
 */
function mobilenetV2Like(size: number, widths: number[]): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 3] });
  const bnRelu6 = (x: tf.SymbolicTensor) => L.reLU({ maxValue: 6 }).apply(L.batchNormalization({ epsilon: 1e-3 }).apply(x)) as tf.SymbolicTensor;
  let x = L.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(input) as tf.SymbolicTensor;
  x = bnRelu6(L.conv2d({ filters: widths[0]!, kernelSize: 3, strides: 2, useBias: false }).apply(x) as tf.SymbolicTensor);
  let channels = widths[0]!;
  widths.slice(1).forEach((out, i) => {
    const stride = i % 2 === 0 ? 2 : 1;
    let y = bnRelu6(L.conv2d({ filters: channels * 6, kernelSize: 1, useBias: false }).apply(x) as tf.SymbolicTensor);
    if (stride === 2) y = L.zeroPadding2d({ padding: [[0, 1], [0, 1]] }).apply(y) as tf.SymbolicTensor;
    y = bnRelu6(L.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 2 ? 'valid' : 'same', useBias: false }).apply(y) as tf.SymbolicTensor);
    y = L.batchNormalization({ epsilon: 1e-3 }).apply(L.conv2d({ filters: out, kernelSize: 1, useBias: false }).apply(y)) as tf.SymbolicTensor;
    x = stride === 1 && out === channels ? L.add().apply([x, y]) as tf.SymbolicTensor : y;
    channels = out;
  });
  x = bnRelu6(L.conv2d({ filters: 64, kernelSize: 1, useBias: false }).apply(x) as tf.SymbolicTensor);
  const trunk = tf.model({ inputs: input, outputs: x });
  const full = tf.sequential({ layers: [trunk, L.globalAveragePooling2d({}), L.dense({ units: 4, activation: 'softmax' })] });
  randomizeWeights(full, 17);
  return full;
}

test('a MobileNetV2-like network (ZeroPadding + valid stride 2, inverted residuals with Add, ReLU6, BN), nested', async () => {
  await assertExportParity(mobilenetV2Like(64, [8, 8, 8, 16, 16]));
});
