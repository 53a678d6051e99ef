import type { KernelFunc } from './conv-grads.js';

/**
 * Identity that shares the input's buffer (one more reference) instead of copying it. tfjs-core clones every tensor
 * the gradient tape saves, and the shipped wasm Identity copies each one: ~7 % of a training step for the small CNN
 * (tf.profile: Identity 206 ms of ~3,100 ms over 10 batches). Tensors are immutable, so sharing is what the cpu
 * backend does too and what wasm's own Reshape does; the buffer is freed when its last tensor is disposed.
 */
export function makeSharedIdentity(original: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: { dataId: object; shape: number[]; dtype: string } };
    if (x.dtype === 'string') return original({ inputs, backend, attrs });
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as ReturnType<KernelFunc>;
  };
}
