import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as ort from 'onnxruntime-node';
import { EdgecamError } from '../../src/errors.js';
import { createClassifier } from '../../src/inference/engine.js';
import { createOrtSession } from '../../src/inference/session.js';
import type { SessionFactory, SessionOptionsLike } from '../../src/inference/types.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { writeModelFolder, type ModelFolder } from '../../src/models/folder.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { softmax } from '../../src/postprocess/scores.js';
import { writeTinyModelFolder } from '../fakes/onnx-fixtures.js';

const CUDA_ERROR = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'edgecam-engine-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Log lines as objects, so tests can check what the engine reported. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  return { logger: createLogger({ level: 'debug', destination, pretty: false }), lines };
}

/** image [N,3,4,4] → GlobalAveragePool → 'embedding' [N,3] → Gemm(W, b) → 'logits' [N,2]. Hand-computable. */
const W = [[1, -2, 0.5], [-1, 3, 2]];
const B = [0.25, -0.5];
async function meanThenLinearFolder(dir: string): Promise<ModelFolder> {
  const b = new GraphBuilder({ name: 'mean-then-linear' });
  const pooled = b.flatten(b.globalAveragePool(b.input('image', ['N', 3, 4, 4])), 1, 'embedding');
  b.output(pooled, ['N', 3]);
  b.output(b.gemm(pooled, { data: Float32Array.from(W.flat()), dims: [2, 3] }, { data: Float32Array.from(B), dims: [2] }, { transB: true, out: 'logits' }), ['N', 2]);
  return writeModelFolder(join(dir, 'linear'), {
    modelBytes: b.toBytes(),
    manifest: {
      name: 'linear', version: '1', created: '2024-01-01T00:00:00Z', labels: ['dark', 'bright'],
      input: { name: 'image', shape: [-1, 3, 4, 4], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
      preprocess: { resize: 'squash', size: [4, 4], scale: 1 / 255 },
      output: { name: 'logits', kind: 'logits', embedding: { name: 'embedding', size: 3 } },
    },
  });
}

test('real ORT: probabilities and embedding equal a hand computation (mean per channel → W·x + b → softmax)', async () => {
  await withTmp(async (dir) => {
    const folder = await meanThenLinearFolder(dir);
    const classifier = await createClassifier({ logger: silentLogger() }, { folder, providers: ['cpu'] });
    try {
      assert.equal(classifier.provider, 'cpu');
      const data = Float32Array.from({ length: 48 }, (_, i) => (i % 7) / 10 + Math.floor(i / 16)); // channel c adds c
      const means = [0, 1, 2].map((c) => data.subarray(c * 16, (c + 1) * 16).reduce((a, v) => a + v, 0) / 16);
      const logits = W.map((row, k) => row.reduce((a, w, j) => a + w * means[j]!, B[k]!));
      const expected = softmax(logits);
      const result = await classifier.classify({ data, dims: [1, 3, 4, 4] });
      assert.deepEqual(result.scores.labels, ['dark', 'bright']);
      result.scores.probabilities.forEach((p, i) => assert.ok(Math.abs(p - expected[i]!) < 1e-5, `p[${i}] ${p} vs ${expected[i]}`));
      assert.ok(result.embedding);
      [...result.embedding].forEach((v, i) => assert.ok(Math.abs(v - means[i]!) < 1e-5, `embedding[${i}]`));
      assert.ok(result.latencyMs >= 0);
    } finally {
      await classifier.dispose();
    }
  });
});

test('real ORT: tiny CNN fixture gives the same numbers as a direct InferenceSession run; batches equal single runs', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'), { inputSize: 32, labels: 3 });
    const classifier = await createClassifier({ logger: silentLogger() }, { folder, providers: ['cpu'] });
    const direct = await ort.InferenceSession.create(folder.modelBytes);
    try {
      const images = [0, 1, 2].map((k) => Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i * (k + 1) * 0.01)));
      const batch = new Float32Array(3 * images[0]!.length);
      images.forEach((img, k) => batch.set(img, k * img.length));
      const batched = await classifier.classifyBatch({ data: batch, dims: [3, 3, 32, 32] });
      assert.equal(batched.length, 3);
      for (const [k, img] of images.entries()) {
        const want = (await direct.run({ input: new ort.Tensor('float32', img, [1, 3, 32, 32]) })).probs!.data as Float32Array;
        const got = await classifier.classify({ data: img, dims: [1, 3, 32, 32] });
        assert.deepEqual(got.scores.labels, ['class0', 'class1', 'class2']);
        got.scores.probabilities.forEach((p, i) => assert.ok(Math.abs(p - want[i]!) < 1e-6, `image ${k} class ${i}: ${p} vs ${want[i]}`));
        batched[k]!.scores.probabilities.forEach((p, i) => assert.ok(Math.abs(p - want[i]!) < 1e-5, `batched image ${k} class ${i}`));
      }
    } finally {
      await classifier.dispose();
      await direct.release();
    }
  });
});

test('fallback: cuda fails like the real missing library, cpu is used, the failure is logged with provider and reason', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'));
    const calls: SessionOptionsLike[] = [];
    const factory: SessionFactory = async (bytes, options) => {
      calls.push(options);
      const ep = options.executionProviders?.[0];
      if (typeof ep === 'object' && ep.name === 'cuda') throw new Error(CUDA_ERROR);
      return createOrtSession(bytes, options);
    };
    const { logger, lines } = memoryLogger();
    const classifier = await createClassifier({ logger, sessionFactory: factory }, { folder, providers: ['cuda', 'cpu'] });
    try {
      assert.equal(classifier.provider, 'cpu');
      assert.equal(classifier.providerFailures.length, 1);
      assert.equal(classifier.providerFailures[0]!.provider, 'cuda');
      assert.match(classifier.providerFailures[0]!.error, /Failed to load shared library.*CUDA 12/);
      // One provider per session (ORT does not fall back by itself), 1 intra-op thread, no spinning, native logs off.
      assert.deepEqual(calls.map((c) => c.executionProviders), [[{ name: 'cuda', deviceId: 0 }], ['cpu']]);
      for (const c of calls) {
        assert.equal(c.intraOpNumThreads, 1);
        assert.equal(c.logSeverityLevel, 4);
        assert.equal((c.extra as Record<string, string>)['session.intra_op.allow_spinning'], '0');
      }
      const failure = lines.find((l) => l.provider === 'cuda');
      assert.ok(failure, JSON.stringify(lines));
      assert.equal(failure.level, 40, 'explicitly requested provider failing is a warning');
      assert.match(String(failure.error), /Failed to load shared library/);
      assert.ok(lines.some((l) => l.msg === 'model loaded' && l.provider === 'cpu'));
    } finally {
      await classifier.dispose();
    }
  });
});

test('real ORT with default providers: on a machine without CUDA, cuda fails for real and cpu takes over', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'));
    const classifier = await createClassifier({ logger: silentLogger() }, { folder });
    try {
      if (classifier.provider === 'cpu') {
        assert.equal(classifier.providerFailures[0]?.provider, 'cuda');
        assert.match(classifier.providerFailures[0]!.error, /shared library|backend/i);
      } else {
        assert.equal(classifier.provider, 'cuda');
      }
      const r = await classifier.classify({ data: new Float32Array(3 * 32 * 32).fill(0.5), dims: [1, 3, 32, 32] });
      assert.ok(Math.abs(r.scores.probabilities.reduce((a, b) => a + b) - 1) < 1e-5);
    } finally {
      await classifier.dispose();
    }
  });
});

test('a provider whose warm-up run fails counts as failed; its session is released and the next is tried', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'));
    let released = 0;
    // 'cuda' here: a session that loads but whose first run fails (as a GPU without matching kernels does).
    const factory: SessionFactory = async (bytes, options) => {
      const ep = options.executionProviders?.[0];
      const real = await createOrtSession(bytes, { ...options, executionProviders: ['cpu'] });
      if (typeof ep !== 'object') return real;
      return { inputNames: real.inputNames, outputNames: real.outputNames, run: async () => { throw new Error('CUDA error: no kernel image is available'); }, release: async () => { released++; await real.release(); } };
    };
    const classifier = await createClassifier({ logger: silentLogger(), sessionFactory: factory }, { folder, providers: ['cuda', 'cpu'] });
    assert.equal(classifier.provider, 'cpu');
    assert.equal(released, 1);
    assert.equal(classifier.providerFailures.length, 1);
    assert.match(classifier.providerFailures[0]!.error, /no kernel image/);
    await classifier.dispose();
  });
});

test('every provider failing → INFERENCE_NO_PROVIDER listing each provider and its reason', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'));
    const factory: SessionFactory = async (_bytes, options) => {
      const ep = options.executionProviders?.[0];
      throw new Error(typeof ep === 'object' ? `OrtSessionOptionsAppendExecutionProvider_${ep.name}: Failed to load shared library` : 'Load model failed: protobuf parsing failed');
    };
    await assert.rejects(createClassifier({ logger: silentLogger(), sessionFactory: factory }, { folder, providers: ['tensorrt', 'cuda', 'cpu'] }), (err: unknown) => {
      assert.ok(err instanceof EdgecamError);
      assert.equal(err.code, 'INFERENCE_NO_PROVIDER');
      assert.match(err.message, /tensorrt: .*Failed to load shared library.*TensorRT/);
      assert.match(err.message, /cuda: .*Failed to load shared library/);
      assert.match(err.message, /cpu: Load model failed: protobuf parsing failed/);
      assert.match(err.message, /--providers cpu/);
      return true;
    });
    await assert.rejects(createClassifier({ logger: silentLogger() }, { folder, providers: [] }), /at least "cpu"/);
  });
});

test('input tensors are checked against the manifest before running', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'), { inputSize: 32 });
    const classifier = await createClassifier({ logger: silentLogger() }, { folder, providers: ['cpu'] });
    const code = (c: string, msg: RegExp) => (err: unknown) => err instanceof EdgecamError && err.code === c && msg.test(err.message);
    await assert.rejects(classifier.classify({ data: new Float32Array(3 * 16 * 16), dims: [1, 3, 16, 16] }), code('INFERENCE_INPUT_SHAPE', /\[1,3,16,16\].*\[N,3,32,32\].*dimension 2 is 16, expected 32/));
    await assert.rejects(classifier.classify({ data: new Float32Array(32 * 32 * 3), dims: [1, 32, 32, 3] }), code('INFERENCE_INPUT_SHAPE', /dimension 1 is 32, expected 3/));
    await assert.rejects(classifier.classify({ data: new Float32Array(10), dims: [1, 3, 32, 32] }), code('INFERENCE_INPUT_SHAPE', /10 values for 3072/));
    await assert.rejects(classifier.classify({ data: new Float32Array(2 * 3072), dims: [2, 3, 32, 32] }), code('INFERENCE_INPUT_SHAPE', /classifyBatch/));
    await classifier.dispose();
    await classifier.dispose(); // safe twice
    await assert.rejects(classifier.classify({ data: new Float32Array(3072), dims: [1, 3, 32, 32] }), code('INFERENCE_DISPOSED', /unloaded/));
  });
});

test('a manifest naming an output the session lacks is refused on every provider', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'));
    const factory: SessionFactory = async (bytes, options) => {
      const real = await createOrtSession(bytes, options);
      return { inputNames: real.inputNames, outputNames: ['something_else'], run: (f) => real.run(f), release: () => real.release() };
    };
    await assert.rejects(createClassifier({ logger: silentLogger(), sessionFactory: factory }, { folder, providers: ['cpu'] }), /output "probs" \(graph outputs: something_else\)/);
  });
});

test('tensorrt with a cache dir: folder created, cache variables set (without overriding the user\'s), then fallback to cpu', async () => {
  await withTmp(async (dir) => {
    const folder = await writeTinyModelFolder(join(dir, 'tiny'));
    const env: Record<string, string | undefined> = { ORT_TENSORRT_CACHE_PATH: '/user/choice' };
    const cacheDir = join(dir, 'trt-cache');
    const factory: SessionFactory = async (bytes, options) => {
      const ep = options.executionProviders?.[0];
      if (typeof ep === 'object') throw new Error(`OrtSessionOptionsAppendExecutionProvider_TensorRT: Failed to load shared library`);
      return createOrtSession(bytes, options);
    };
    const classifier = await createClassifier({ logger: silentLogger(), sessionFactory: factory, env }, { folder, providers: ['tensorrt', 'cpu'], tensorrtCacheDir: cacheDir });
    assert.ok((await stat(cacheDir)).isDirectory());
    assert.equal(env.ORT_TENSORRT_ENGINE_CACHE_ENABLE, '1');
    assert.equal(env.ORT_TENSORRT_CACHE_PATH, '/user/choice');
    assert.equal(classifier.provider, 'cpu');
    await classifier.dispose();
  });
});
