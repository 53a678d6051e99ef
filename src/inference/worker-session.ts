import { Worker } from 'node:worker_threads';
import { EdgecamError } from '../errors.js';
import type { Tensor } from '../types.js';
import type { OrtTensorLike, SessionFactory, SessionLike, SessionOptionsLike } from './types.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

/**
 * A SessionFactory that runs ONNX Runtime in a worker thread (one worker per session).
 *
 * Why: onnxruntime-node 1.30's `run()` is synchronous on the calling thread (a setImmediate around a native call),
 * so on the main thread every inference blocks the event loop: sharp's finished preprocessing, the next frame and
 * MQTT acknowledgements all wait for the model, and decoding cannot overlap with inference on the JS side. With the
 * session in a worker, preprocessing (libuv pool), inference (this worker) and the JS glue (main thread) overlap.
 * See bench/README.md for what it measured.
 *
 * Inputs are copied to the worker (the caller keeps its tensors); outputs are transferred back without a copy.
 * The worker keeps the process alive only while a call is pending.
 */

const WORKER_URL = new URL('./ort-worker.js', import.meta.url);

class WorkerSession implements SessionLike {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (o: Record<string, OrtTensorLike>) => void; reject: (e: Error) => void }>();
  private control: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | undefined;
  private dead: Error | undefined;
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];

  constructor(private readonly worker: Worker) {
    const lost = (why: string, cause?: unknown) => this.fail(new EdgecamError('INFERENCE_WORKER_FAILED', `the ONNX Runtime worker thread ${why}; reload the model (SIGHUP or the reload-model request)`, { cause }));
    worker.on('message', (m: WorkerReply) => this.receive(m));
    worker.on('error', (err) => lost(`failed: ${err.message}`, err));
    worker.on('exit', (code) => lost(`exited (code ${code})`));
    worker.unref();
  }

  async create(bytes: Uint8Array, options: SessionOptionsLike): Promise<void> {
    const created = await this.request({ op: 'create', bytes, options });
    if (created.op !== 'created') throw new EdgecamError('INFERENCE_WORKER_FAILED', 'unexpected reply from the ONNX Runtime worker');
    this.inputNames = created.inputNames;
    this.outputNames = created.outputNames;
  }

  run(feeds: Record<string, Tensor>): Promise<Record<string, OrtTensorLike>> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    const message: WorkerRequest = { op: 'run', id, feeds: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, { data: t.data, dims: t.dims }])) };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage(message);
    });
  }

  async release(): Promise<void> {
    if (!this.dead) await this.request({ op: 'release' }).catch(() => undefined);
    this.dead ??= new EdgecamError('INFERENCE_DISPOSED', 'the model was unloaded; load it again');
    await this.worker.terminate();
  }

  private request(message: WorkerRequest): Promise<WorkerReply> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<WorkerReply>((resolve, reject) => {
      this.control = { resolve, reject };
      this.worker.ref();
      this.worker.postMessage(message);
    });
  }

  private idle(): void {
    if (this.pending.size === 0 && !this.control) this.worker.unref();
  }

  private receive(m: WorkerReply): void {
    if ((m.op === 'result' || m.op === 'error') && m.id !== undefined) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      this.idle();
      if (m.op === 'result') p?.resolve(m.outputs as Record<string, OrtTensorLike>);
      else p?.reject(new EdgecamError('INFERENCE_FAILED', m.message));
      return;
    }
    const c = this.control;
    this.control = undefined;
    this.idle();
    if (m.op === 'error') c?.reject(new EdgecamError('INFERENCE_FAILED', m.message));
    else c?.resolve(m);
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    this.control?.reject(err);
    this.control = undefined;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** Drop-in for createOrtSession (session.ts): same options; the session lives in its own worker thread. */
export const createOrtWorkerSession: SessionFactory = async (modelBytes, options) => {
  const session = new WorkerSession(new Worker(WORKER_URL));
  try {
    await session.create(modelBytes, options);
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
  return session;
};
