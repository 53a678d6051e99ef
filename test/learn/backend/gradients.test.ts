import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend } from '../../../src/learn/backend/index.js';
import { silentLogger } from '../../../src/logger.js';

// Each gradient kernel edgecam registers for wasm is checked against tfjs' reference `cpu` backend on the same
// random tensors: max |wasm - cpu| ≤ 1e-4 × max(1, max |cpu|).

function seededValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

type Shape = number[];
type Fn = (...xs: tf.Tensor[]) => tf.Tensor;

/** Gradients of sum(f(xs) * dy) w.r.t. every input, on one backend, as plain arrays. */
async function gradientsOn(backend: string, f: Fn, shapes: Shape[], seed: number): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  assert.equal(tf.getBackend(), backend);
  return tf.tidy(() => {
    const xs = shapes.map((shape, i) => tf.tensor(seededValues(tf.util.sizeFromShape(shape), seed + i), shape));
    const y = f(...xs);
    const dy = tf.tensor(seededValues(y.size, seed + 100), y.shape);
    const grads = tf.grads((...inputs: tf.Tensor[]) => f(...inputs))(xs, dy);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

/** `referenceFn` (default `f`) runs on cpu: a gradient edgecam replaces globally is checked against plain ops. */
async function assertSameGradients(f: Fn, shapes: Shape[], seed = 1, referenceFn: Fn = f): Promise<void> {
  const reference = await gradientsOn('cpu', referenceFn, shapes, seed);
  const actual = await gradientsOn('wasm', f, shapes, seed);
  assert.equal(actual.length, reference.length);
  reference.forEach((ref, i) => {
    const got = actual[i]!;
    assert.equal(got.length, ref.length, `input ${i}: gradient size`);
    let scale = 1;
    let worst = 0;
    for (let j = 0; j < ref.length; j++) {
      scale = Math.max(scale, Math.abs(ref[j]!));
      worst = Math.max(worst, Math.abs(ref[j]! - got[j]!));
    }
    assert.ok(Number.isFinite(worst) && worst <= 1e-4 * scale, `input ${i} (shape ${shapes[i]}): max diff ${worst}, scale ${scale}`);
  });
}

describe('wasm training kernels match the cpu backend', () => {
  before(async () => {
    const chosen = await initTrainingBackend({ logger: silentLogger(), prefer: 'wasm' });
    assert.equal(chosen.backend, 'wasm');
  });

  const convCases: Array<{ x: Shape; w: Shape; strides: [number, number]; pad: 'same' | 'valid' }> = [
    { x: [2, 9, 9, 3], w: [3, 3, 3, 4], strides: [1, 1], pad: 'valid' },
    { x: [2, 9, 9, 3], w: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
    { x: [2, 9, 7, 3], w: [3, 3, 3, 5], strides: [2, 2], pad: 'same' },
    { x: [2, 8, 8, 2], w: [3, 3, 2, 4], strides: [2, 2], pad: 'valid' },
    { x: [1, 11, 10, 4], w: [5, 5, 4, 3], strides: [2, 2], pad: 'same' },
    { x: [3, 7, 9, 2], w: [2, 3, 2, 6], strides: [1, 2], pad: 'valid' },
    { x: [2, 6, 6, 5], w: [1, 1, 5, 7], strides: [1, 1], pad: 'same' },
    // More channels and strides through the convolution form of dW.
    { x: [2, 9, 9, 8], w: [3, 3, 8, 6], strides: [2, 2], pad: 'same' },
    { x: [2, 10, 10, 6], w: [3, 3, 6, 4], strides: [1, 1], pad: 'valid' },
    { x: [2, 12, 12, 1], w: [3, 3, 1, 4], strides: [1, 1], pad: 'same' },
  ];
  for (const c of convCases) {
    it(`conv2d x${c.x} w${c.w} strides ${c.strides} ${c.pad}: dx and dW`, async () => {
      await assertSameGradients((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), [c.x, c.w], 11);
    });
  }

  const depthwiseCases: Array<{ x: Shape; w: Shape; strides: [number, number]; pad: 'same' | 'valid' }> = [
    { x: [2, 9, 9, 3], w: [3, 3, 3, 1], strides: [1, 1], pad: 'same' },
    { x: [2, 9, 7, 4], w: [3, 3, 4, 1], strides: [2, 2], pad: 'same' },
    { x: [2, 8, 8, 2], w: [3, 3, 2, 2], strides: [2, 2], pad: 'valid' },
    { x: [1, 7, 9, 3], w: [5, 5, 3, 2], strides: [1, 1], pad: 'valid' },
  ];
  for (const c of depthwiseCases) {
    it(`depthwiseConv2d x${c.x} w${c.w} strides ${c.strides} ${c.pad}: dx and dW`, async () => {
      await assertSameGradients((x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), [c.x, c.w], 21);
    });
  }

  for (const [transposeA, transposeB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`matMul transposeA=${transposeA} transposeB=${transposeB}`, async () => {
      const a = transposeA ? [7, 5] : [5, 7];
      const b = transposeB ? [3, 7] : [7, 3];
      await assertSameGradients((x, y) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, transposeA, transposeB), [a, b], 31);
    });
  }

  // A small left side and a big right side: the kernel computes the transposed product instead (packs less).
  for (const [a, b, transposeA, transposeB] of [[[2, 30], [40, 30], false, true], [[30, 2], [40, 30], true, true], [[1, 3, 30], [1, 40, 30], false, true]] as const) {
    it(`matMul ${a} x ${b} transposeA=${transposeA} transposeB=${transposeB} (transposed product)`, async () => {
      const product = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, transposeA, transposeB);
      await assertSameGradients(product, [[...a], [...b]], 35);
      await tf.setBackend('wasm');
      const forward = product(tf.ones([...a]), tf.ones([...b]));
      assert.deepEqual(forward.shape, a.length === 3 ? [1, 3, 40] : [2, 40]);
    });
  }

  it('matMul on rank-3 tensors with batch 1 keeps the rank', async () => {
    await assertSameGradients((x, y) => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D), [[1, 4, 6], [1, 6, 3]], 41);
  });

  const poolCases: Array<{ x: Shape; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }> = [
    { x: [2, 8, 8, 3], size: [2, 2], strides: [2, 2], pad: 'valid' },
    { x: [2, 9, 7, 3], size: [2, 2], strides: [2, 2], pad: 'valid' },
    { x: [2, 9, 7, 4], size: [3, 3], strides: [2, 2], pad: 'same' },
    { x: [1, 6, 6, 2], size: [3, 3], strides: [1, 1], pad: 'valid' },
  ];
  for (const c of poolCases) {
    it(`maxPool x${c.x} size ${c.size} strides ${c.strides} ${c.pad}: dx`, async () => {
      await assertSameGradients((x) => tf.maxPool(x as tf.Tensor4D, c.size, c.strides, c.pad), [c.x], 51);
    });
  }

  // Equal values in a window (ReLU zeros, saturated pixels): the gradient goes to the first of them, as on cpu.
  for (const shape of [[2, 8, 8, 3], [2, 9, 7, 5]] as Array<[number, number, number, number]>) {
    it(`maxPool 2x2 with ties x${shape}: dx goes to the first largest`, async () => {
      const values = seededValues(tf.util.sizeFromShape(shape), 53).map((v) => Math.round(v * 2) / 2);
      const dxOn = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const x = tf.tensor(values, shape) as tf.Tensor4D;
          const dy = tf.tensor(seededValues(tf.maxPool(x, 2, 2, 'valid').size, 54), tf.maxPool(x, 2, 2, 'valid').shape);
          return tf.grad((t) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'))(x, dy).dataSync();
        });
      };
      const reference = await dxOn('cpu');
      assert.deepEqual(Array.from(await dxOn('wasm')), Array.from(reference));
    });
  }

  it('bias gradient (sum over all but the last axis) and other sums', async () => {
    await assertSameGradients((x, b) => tf.add(x, b), [[2, 5, 5, 3], [3]], 61);
    await tf.setBackend('wasm');
    const x = tf.tensor(seededValues(2 * 3 * 4, 7), [2, 3, 4]);
    const sums: Array<[number[], boolean]> = [[[0, 1], false], [[1, 0], true], [[1], false], [[0, 1, 2], false]];
    for (const [axis, keepDims] of sums) {
      const onWasm = tf.sum(x, axis, keepDims);
      await tf.setBackend('cpu');
      const xCpu = tf.tensor(seededValues(2 * 3 * 4, 7), [2, 3, 4]);
      const onCpu = tf.sum(xCpu, axis, keepDims);
      assert.deepEqual(onWasm.shape, onCpu.shape, `axis ${axis} keepDims ${keepDims}`);
      const diff = Math.max(...Array.from(onWasm.dataSync(), (v, i) => Math.abs(v - onCpu.dataSync()[i]!)));
      assert.ok(diff <= 1e-5, `axis ${axis}: diff ${diff}`);
      await tf.setBackend('wasm');
    }
  });

  it('mean over all but the last axis (batch-norm statistics) and other means', async () => {
    await assertSameGradients((x) => tf.mean(x, [0, 1, 2]), [[2, 5, 4, 3]], 71);
    for (const [axis, keepDims] of [[[0, 1, 2], true], [[0, 1, 2], false], [[1, 2], false], [[0], false]] as Array<[number[], boolean]>) {
      const onBoth = [];
      for (const backend of ['wasm', 'cpu']) {
        await tf.setBackend(backend);
        const m = tf.mean(tf.tensor(seededValues(2 * 5 * 4 * 3, 9), [2, 5, 4, 3]), axis, keepDims);
        onBoth.push({ shape: m.shape, values: m.dataSync() });
      }
      const [wasm, cpu] = onBoth;
      assert.deepEqual(wasm!.shape, cpu!.shape, `axis ${axis} keepDims ${keepDims}`);
      const diff = Math.max(...Array.from(wasm!.values, (v, i) => Math.abs(v - cpu!.values[i]!)));
      assert.ok(diff <= 1e-5, `axis ${axis}: diff ${diff}`);
    }
    await tf.setBackend('wasm');
  });

  // edgecam replaces FusedBatchNorm's gradient for every backend, so the reference is the same function written with
  // plain ops, (x − mean)·rsqrt(var + ε)·scale + offset, differentiated by tfjs on cpu: for x, mean, variance, scale and
  // offset, with channel statistics ([C]) as in training and per-element ones.
  for (const statShape of [[4], [3, 5, 4]]) {
    it(`batchNorm gradient with statistics of shape ${statShape} equals that of the formula in plain ops`, async () => {
      const variance = (v: tf.Tensor) => v.square().add(0.5);
      const fused: Fn = (x, m, v, off, sc) => tf.batchNorm(x as tf.Tensor4D, m!, variance(v!), off!, sc!, 1e-3);
      const plain: Fn = (x, m, v, off, sc) => x!.sub(m!).mul(variance(v!).add(1e-3).rsqrt()).mul(sc!).add(off!);
      await assertSameGradients(fused, [[2, 3, 5, 4], statShape, statShape, statShape, statShape], 81, plain);
    });
  }

  it('clone shares the buffer and keeps its values when the original is disposed (zero-copy Identity)', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numDataBuffers;
    const original = tf.tensor(seededValues(1000, 5), [10, 100]);
    const copy = tf.clone(original);
    // A copying Identity would have allocated a second buffer.
    assert.equal(tf.memory().numDataBuffers - before, 1);
    original.dispose();
    assert.deepEqual(copy.dataSync(), seededValues(1000, 5));
    assert.deepEqual(copy.shape, [10, 100]);
    copy.dispose();
    assert.equal(tf.memory().numDataBuffers, before);
    const strings = tf.tensor(['a', 'b']);
    assert.deepEqual(tf.clone(strings).dataSync(), ['a', 'b']);
  });
});
