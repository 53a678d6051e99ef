import ort from 'onnxruntime-node';

/** Run ONNX bytes in the real onnxruntime-node on float32 feeds; returns every graph output. */
export async function runOnnx(bytes: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3, intraOpNumThreads: 1 });
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
    const out = await session.run(inputs);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { data: Float32Array.from(t.data as ArrayLike<number>, Number), dims: [...t.dims] }]));
  } finally {
    await session.release();
  }
}
