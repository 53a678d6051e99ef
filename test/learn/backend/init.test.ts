import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend } from '../../../src/learn/backend/index.js';
import { createLogger } from '../../../src/logger.js';

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', pretty: false, destination }), lines };
}

async function tfjsNodeLoads(): Promise<boolean> {
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

describe('initTrainingBackend', () => {
  it('auto picks tfjs-node when it loads, otherwise wasm, and logs why tfjs-node was skipped', async () => {
    const { logger, lines } = capturingLogger();
    const chosen = await initTrainingBackend({ logger });
    assert.equal(tf.getBackend(), chosen.backend);
    if (await tfjsNodeLoads()) {
      assert.equal(chosen.backend, 'tensorflow');
    } else {
      assert.equal(chosen.backend, 'wasm');
      assert.match(chosen.details, /^wasm: SIMD, \d+ threads?, edgecam gradient kernels/);
      const skip = lines.find((line) => line.backend === 'tensorflow' && typeof line.reason === 'string');
      assert.ok(skip, 'a log line says why tensorflow was skipped');
      assert.match(String(skip.reason), /tfjs-node/);
    }
  });

  it('is safe to call twice and switches between backends on request', async () => {
    const { logger } = capturingLogger();
    const first = await initTrainingBackend({ logger, prefer: 'wasm' });
    const again = await initTrainingBackend({ logger, prefer: 'wasm' });
    assert.deepEqual(again, first);
    const cpu = await initTrainingBackend({ logger, prefer: 'cpu' });
    assert.equal(cpu.backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    const back = await initTrainingBackend({ logger, prefer: 'wasm' });
    assert.equal(back.backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    // Concurrent calls are serialised and agree.
    const both = await Promise.all([initTrainingBackend({ logger, prefer: 'wasm' }), initTrainingBackend({ logger, prefer: 'wasm' })]);
    assert.deepEqual(both[0], both[1]);
  });

  it('trains a model with every layer type edgecam builds on wasm, matching cpu gradients', async () => {
    await initTrainingBackend({ logger: capturingLogger().logger, prefer: 'wasm' });
    const build = () => {
      const model = tf.sequential();
      model.add(tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 4, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
      model.add(tf.layers.batchNormalization());
      model.add(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
      model.add(tf.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: 'valid', activation: 'relu', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 3 }), pointwiseInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
      model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
      model.add(tf.layers.averagePooling2d({ poolSize: 1 }));
      model.add(tf.layers.flatten());
      model.add(tf.layers.dropout({ rate: 0.2 }));
      model.add(tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }));
      model.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }));
      return model;
    };
    const images = (n: number) => tf.tidy(() => tf.randomUniform([n, 12, 12, 3], 0, 1, 'float32', 7));
    const labels = (n: number) => tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3));

    // Gradients of the whole model (dropout is inactive outside training) agree with cpu.
    const gradsOn = async (backend: string) => {
      await tf.setBackend(backend);
      const model = build();
      const x = images(6);
      const y = labels(6);
      const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar);
      return Object.values(grads).map((g) => Array.from(g.dataSync()));
    };
    const reference = await gradsOn('cpu');
    const actual = await gradsOn('wasm');
    assert.equal(actual.length, reference.length);
    reference.forEach((ref, i) => {
      const scale = Math.max(1, ...ref.map(Math.abs));
      const worst = Math.max(...ref.map((v, j) => Math.abs(v - actual[i]![j]!)));
      assert.ok(worst <= 1e-4 * scale, `variable ${i}: max diff ${worst}`);
    });

    // And model.fit runs on wasm (dropout active, Adam) without a missing kernel.
    await tf.setBackend('wasm');
    const model = build();
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(images(12), labels(12), { batchSize: 4, epochs: 2, verbose: 0 });
    const losses = history.history.loss as number[];
    assert.equal(losses.length, 2);
    assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
  });
});
