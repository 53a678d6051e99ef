import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type TensorInfo = tf.TensorInfo;
export type NamedAttrs = tf.NamedAttrMap;

/**
 * Runs other wasm kernels from inside a kernel and frees their intermediate outputs. Going through the backend (not
 * through tf ops) keeps intermediates off the engine's books: a kernel must return plain TensorInfos it owns.
 */
export class KernelCalls {
  private readonly temporaries: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Call the kernel registered for the wasm backend under `name`; the result is freed by `dispose()`. */
  run(name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrs = {}): TensorInfo {
    const out = this.keep(name, inputs, attrs);
    this.temporaries.push(out);
    return out;
  }

  /** Like `run` but the caller owns the result (typically the kernel's return value). */
  keep(name: string, inputs: Record<string, TensorInfo>, attrs: NamedAttrs = {}): TensorInfo {
    const kernel = tf.getKernel(name, 'wasm');
    if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend }) as TensorInfo;
    if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned several outputs`);
    return out;
  }

  /** A new float32 buffer on the wasm heap, freed by `dispose()`. */
  temp(shape: number[]): TensorInfo {
    const out = this.backend.makeOutput(shape, 'float32');
    this.temporaries.push(out);
    return out;
  }

  /** A new float32 buffer the caller owns. */
  output(shape: number[]): TensorInfo {
    return this.backend.makeOutput(shape, 'float32');
  }

  /** A view on a tensor's data. Take views after the last allocation: growing the heap can detach them. */
  f32(info: TensorInfo): Float32Array {
    return this.backend.typedArrayFromHeap(info) as Float32Array;
  }

  /** A view with another shape over the same data (freed with the original). */
  reshaped(info: TensorInfo, shape: number[]): TensorInfo {
    return { dataId: info.dataId, shape, dtype: info.dtype };
  }

  dispose(): void {
    for (const info of this.temporaries.splice(0)) this.backend.disposeData(info.dataId);
  }
}

/** Runs `body` with a fresh KernelCalls and frees its temporaries whatever happens. */
export function withKernelCalls<T>(backend: tf.KernelBackend, body: (calls: KernelCalls) => T): T {
  const calls = new KernelCalls(backend as unknown as BackendWasm);
  try {
    return body(calls);
  } finally {
    calls.dispose();
  }
}
