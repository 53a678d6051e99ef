import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Lets @tensorflow/tfjs-backend-wasm start its threaded SIMD binary under Node, so XNNPACK's convolutions and matrix
 * products use every core.
 *
 * The package only enables threads in browsers: in Node its Emscripten glue hands `new Worker()` a `blob:` URL (Node's
 * worker_threads need a file), the worker re-imports the main script from another Blob, and the C++ side caps the pool
 * at `os.cpus().length / 2` (it assumes hyper-threading). The worker script itself does support Node. So, only while
 * the backend initialises, we:
 *   1. record the text of Blobs built from strings, and turn the two script Blobs into files in a cache folder;
 *   2. report twice the wanted thread count as CPUs, so the cap lets `threads` through.
 * Everything is restored in `finally`. If anything fails the caller falls back to the single-threaded binary.
 */
export interface ThreadedWasmPatch {
  /** Undo the global patches (call once the backend has initialised, success or not). */
  restore(): void;
}

const MAIN_SCRIPT_PREFIX = 'var WasmBackendModuleThreadedSimd';
// Names the bundled factory closes over; the worker evaluates the factory's source without that closure.
const FACTORY_PRELUDE =
  "var commonjsGlobal = globalThis, require$$0 = require('fs'), require$$1 = require('path'), " +
  "require$$3 = require('perf_hooks'), require$$4 = require('os');\n";

export function patchForThreadedWasm(threads: number, cacheDir = defaultCacheDir()): ThreadedWasmPatch {
  mkdirSync(cacheDir, { recursive: true });
  const mainPath = path.join(cacheDir, 'wasm-main.cjs');
  const workerPath = path.join(cacheDir, 'wasm-worker.cjs');
  const OriginalBlob = globalThis.Blob;
  const originalCreateObjectURL = URL.createObjectURL;
  const originalCpus = os.cpus;
  const blobText = new WeakMap<Blob, string>();

  class RecordingBlob extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every((part) => typeof part === 'string')) {
        const text = (parts as string[]).join('');
        blobText.set(this, text);
        // The main script Blob is only opened inside the workers, so write it now.
        if (text.startsWith(MAIN_SCRIPT_PREFIX)) writeIfChanged(mainPath, FACTORY_PRELUDE + text);
      }
    }
  }
  globalThis.Blob = RecordingBlob as typeof Blob;
  URL.createObjectURL = (blob: Blob): string => {
    const text = blobText.get(blob);
    if (text === undefined || text.startsWith(MAIN_SCRIPT_PREFIX)) return originalCreateObjectURL(blob);
    // The worker script: in the worker, "open" the main-script Blob as our file instead.
    const redirect = `URL.createObjectURL = () => ${JSON.stringify(mainPath)}; URL.revokeObjectURL = () => {};\n`;
    writeIfChanged(workerPath, redirect + text);
    return workerPath;
  };
  const wantedCpus = Math.max(1, Math.floor(threads)) * 2;
  os.cpus = () => {
    const real = originalCpus();
    return Array.from({ length: wantedCpus }, (_, i) => real[i % Math.max(1, real.length)]!);
  };
  return {
    restore() {
      globalThis.Blob = OriginalBlob;
      URL.createObjectURL = originalCreateObjectURL;
      os.cpus = originalCpus;
    },
  };
}

function defaultCacheDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return path.join(os.tmpdir(), `edgecam-tfjs-wasm-${uid}`);
}

/** Atomic write, skipped when the content is already there: several processes may start at once. */
function writeIfChanged(file: string, content: string): void {
  try {
    if (readFileSync(file, 'utf8') === content) return;
  } catch {
    // not there yet
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

interface PThreadRegistry {
  runningWorkers?: Array<{ unref?: () => void }>;
  unusedWorkers?: Array<{ unref?: () => void }>;
}

/**
 * XNNPACK's pool threads block forever waiting for work, and Emscripten keeps a running thread's worker referenced,
 * so Node would never exit. They hold no state worth waiting for: unreference them.
 */
export function unrefWasmWorkers(wasmModule: unknown): number {
  const registry = (wasmModule as { PThread?: PThreadRegistry }).PThread;
  const workers = [...(registry?.runningWorkers ?? []), ...(registry?.unusedWorkers ?? [])];
  for (const worker of workers) worker.unref?.();
  return workers.length;
}
