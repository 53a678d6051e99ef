import * as tf from '@tensorflow/tfjs';
import { makeConv2DBackpropFilter, makeConv2DBackpropInput, type KernelFunc } from './conv-grads.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './depthwise-grads.js';
import { BATCH_NORM_GRAD_SUMS, batchNormGradConfig, batchNormGradSumsKernel } from './batch-norm-grad.js';
import { makeSharedIdentity } from './identity.js';
import { ADAM_STEP, adamStepKernel } from './adam.js';
import { makeBatchMatMul, makeMaxPoolGrad, makeMean, makeSum } from './matmul-and-pool.js';

/** Marks our kernel configs, so registering twice is a no-op and we never wrap our own kernels. */
const EDGECAM_KERNEL = Symbol.for('edgecam.wasmTrainingKernel');

type Marked = tf.KernelConfig & { [EDGECAM_KERNEL]?: true };

/**
 * Registers the gradient kernels wasm lacks and replaces the slow ones training hits. Call after the wasm backend
 * has initialised (the replaced kernels' own setup has then run, and we call them as fallbacks). Returns the names
 * of the kernels it (re)registered; an empty list when they already were.
 */
export function registerWasmTrainingKernels(): string[] {
  const replaced: string[] = [];
  const install = (name: string, make: (original: KernelFunc | undefined) => KernelFunc) => {
    const current = tf.getKernel(name, 'wasm') as Marked | undefined;
    if (current?.[EDGECAM_KERNEL]) return;
    const original = current?.kernelFunc as KernelFunc | undefined;
    if (current) tf.unregisterKernel(name, 'wasm');
    const config: Marked = { kernelName: name, backendName: 'wasm', kernelFunc: make(original) as tf.KernelFunc, [EDGECAM_KERNEL]: true };
    tf.registerKernel(config);
    replaced.push(name);
  };
  const required = (name: string, original: KernelFunc | undefined): KernelFunc => {
    if (!original) throw new Error(`the wasm backend has no ${name} kernel to build on`);
    return original;
  };
  install(tf.Conv2DBackpropFilter, (original) => makeConv2DBackpropFilter(original));
  install(tf.Conv2DBackpropInput, (original) => makeConv2DBackpropInput(required(tf.Conv2DBackpropInput, original)));
  install(tf.DepthwiseConv2dNativeBackpropFilter, () => depthwiseBackpropFilter);
  install(tf.DepthwiseConv2dNativeBackpropInput, () => depthwiseBackpropInput);
  install(tf.BatchMatMul, (original) => makeBatchMatMul(required(tf.BatchMatMul, original)));
  install(tf.MaxPoolGrad, (original) => makeMaxPoolGrad(required(tf.MaxPoolGrad, original)));
  install(tf.Sum, (original) => makeSum(required(tf.Sum, original)));
  install(tf.Mean, (original) => makeMean(required(tf.Mean, original)));
  install(tf.Identity, (original) => makeSharedIdentity(required(tf.Identity, original)));
  install(ADAM_STEP, () => adamStepKernel as unknown as KernelFunc);
  install(BATCH_NORM_GRAD_SUMS, () => batchNormGradSumsKernel as unknown as KernelFunc);
  registerBatchNormGradient(replaced);
  return replaced;
}

let batchNormGradientRegistered = false;

/** Gradients are global in tfjs (not per backend); ours gives the same values on every backend, only faster on wasm. */
function registerBatchNormGradient(replaced: string[]): void {
  if (batchNormGradientRegistered) return;
  tf.registerGradient(batchNormGradConfig);
  batchNormGradientRegistered = true;
  replaced.push(`${tf.FusedBatchNorm} gradient`);
}
