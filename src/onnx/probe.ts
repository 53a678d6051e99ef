import { ModelError, errorMessage } from '../errors.js';

/** Output dims of one ONNX Runtime run; lets us prove a file we wrote loads and runs, and read sizes the graph leaves symbolic. */
export type ProbeRunner = (modelBytes: Uint8Array, input: { name: string; dims: number[] }) => Promise<Record<string, number[]>>;

/** Run the model once on a zero image with the real onnxruntime-node (CPU, 1 thread). */
export const probeWithOnnxRuntime: ProbeRunner = async (modelBytes, input) => {
  const ort = (await import('onnxruntime-node')).default;
  let session;
  try {
    session = await ort.InferenceSession.create(modelBytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 4 });
  } catch (err) {
    throw new ModelError('ONNX_RUNTIME_LOAD', `ONNX Runtime cannot load the model: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const dims = input.dims.map((d) => (d > 0 ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    const out = await session.run({ [input.name]: new ort.Tensor('float32', new Float32Array(n), dims) });
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, [...t.dims]]));
  } catch (err) {
    throw new ModelError('ONNX_RUNTIME_RUN', `ONNX Runtime loads the model but running it on a ${input.dims.join('x')} zero image failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    await session.release();
  }
};
