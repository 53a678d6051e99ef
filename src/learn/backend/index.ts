import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { patchForThreadedWasm, unrefWasmWorkers, type ThreadedWasmPatch } from './wasm-threaded-loader.js';
import { registerWasmTrainingKernels } from './wasm-kernels/register.js';

export type TrainingBackendName = 'tensorflow' | 'wasm' | 'cpu';
export type TrainingBackendPreference = 'auto' | TrainingBackendName;

export interface TrainingBackendOptions {
  logger: Logger;
  /** 'auto' (default): tfjs-node if installed, else wasm, else cpu. A name: try it first, then the others in that order. */
  prefer?: TrainingBackendPreference;
  /**
   * Threads for the wasm backend's XNNPACK pool; 1 = single-threaded binary. Default: the CPU count (at most 8), but 1
   * when the machine is already busy (1-min load ≥ CPUs): the pool spin-waits, and on a loaded 2-core machine
   * bench/train-speed measured 14.5 img/s with 1 thread vs 9.3 with 2.
   */
  threads?: number;
}

export interface TrainingBackend {
  /** The tfjs backend now active: 'tensorflow', 'wasm' or 'cpu'. */
  backend: TrainingBackendName;
  /** One line for logs and the CLI, e.g. "wasm: SIMD, 2 threads, edgecam gradient kernels". */
  details: string;
}

const FASTEST_FIRST: TrainingBackendName[] = ['tensorflow', 'wasm', 'cpu'];
// Only this backend release is known to start its threaded binary under Node with our loader (see wasm-threaded-loader).
const THREADED_WASM_TESTED_VERSION = /^4\.22\./;

// tfjs keeps its backends in one process-wide engine, so two overlapping calls must not initialise it at once.
let pending: Promise<unknown> = Promise.resolve();
// Why the wasm backend got the thread count it has; it is fixed when the backend starts (once per process).
let wasmThreadNote = '';

/**
 * Picks the fastest training backend that works here and makes it tfjs' active backend. Logs why each faster one
 * was skipped. Safe to call again: an already initialised backend is reused.
 */
export function initTrainingBackend(options: TrainingBackendOptions): Promise<TrainingBackend> {
  const run = pending.then(() => chooseBackend(options));
  pending = run.catch(() => undefined);
  return run;
}

async function chooseBackend(options: TrainingBackendOptions): Promise<TrainingBackend> {
  const log = options.logger.child({ component: 'training-backend' });
  const prefer = options.prefer ?? 'auto';
  const order = prefer === 'auto' ? FASTEST_FIRST : [prefer, ...FASTEST_FIRST.filter((name) => name !== prefer)];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      const details = await activate(name, options, log);
      const chosen: TrainingBackend = { backend: name, details };
      log.info({ backend: name, details, skipped }, `training backend: ${details}`);
      return chosen;
    } catch (err) {
      skipped.push(`${name}: ${errorMessage(err)}`);
      log[name === order[0] && prefer !== 'auto' ? 'warn' : 'info']({ backend: name, reason: errorMessage(err) }, `training backend ${name} skipped`);
    }
  }
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`);
}

async function activate(name: TrainingBackendName, options: TrainingBackendOptions, log: Logger): Promise<string> {
  switch (name) {
    case 'tensorflow':
      return activateTensorflow();
    case 'wasm':
      return activateWasm(options, log);
    case 'cpu':
      await setBackendOrThrow('cpu');
      return 'cpu: pure JavaScript (slow: expect well under 1 image/s for a conv net)';
  }
}

async function activateTensorflow(): Promise<string> {
  if (!tf.findBackend('tensorflow')) {
    // A variable specifier keeps TypeScript and bundlers from requiring the optional package.
    const specifier = '@tensorflow/tfjs-node';
    try {
      await import(specifier);
    } catch (err) {
      throw new Error(`@tensorflow/tfjs-node is not installed or did not load (${firstLine(errorMessage(err))})`);
    }
  }
  await setBackendOrThrow('tensorflow');
  return 'tensorflow: native TensorFlow via @tensorflow/tfjs-node';
}

async function activateWasm(options: TrainingBackendOptions, log: Logger): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!tf.findBackend('wasm')) {
    const { threads: wanted, why } = options.threads ? { threads: Math.max(1, Math.min(8, Math.floor(options.threads))), why: '' } : defaultThreads();
    wasmThreadNote = why;
    if (wanted > 1 && THREADED_WASM_TESTED_VERSION.test(wasm.version_wasm)) {
      wasmThreadNote = await tryThreadedWasm(wasm, wanted, log);
    } else if (wanted > 1) {
      wasmThreadNote = ` (threads off: loader untested with tfjs-backend-wasm ${wasm.version_wasm})`;
    }
  }
  await setBackendOrThrow('wasm');
  unrefWasmWorkers((tf.backend() as unknown as { wasm: unknown }).wasm);
  registerWasmTrainingKernels();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = wasm.getThreadsCount();
  return `wasm: ${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}, edgecam gradient kernels${wasmThreadNote}`;
}

function defaultThreads(): { threads: number; why: string } {
  const cpus = os.availableParallelism();
  const load = os.loadavg()[0] ?? 0;
  if (cpus > 1 && load >= cpus) return { threads: 1, why: ` (1 thread: machine busy, load ${load.toFixed(1)} on ${cpus} CPUs)` };
  return { threads: Math.min(cpus, 8), why: '' };
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

/** Starts the threaded binary; on failure leaves tfjs ready to start the single-threaded one and says why. */
async function tryThreadedWasm(wasm: WasmModule, threads: number, log: Logger): Promise<string> {
  let patch: ThreadedWasmPatch | undefined;
  try {
    patch = patchForThreadedWasm(threads);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    if (await tf.setBackend('wasm')) return '';
    throw new Error('tf.setBackend returned false');
  } catch (err) {
    log.warn({ reason: errorMessage(err) }, 'threaded wasm did not start; using one thread');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    return ` (threads off: ${firstLine(errorMessage(err))})`;
  } finally {
    patch?.restore();
  }
}

async function setBackendOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 200);
}
