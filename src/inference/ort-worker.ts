/**
 * Worker-thread side of worker-session.ts: owns one ONNX Runtime session. onnxruntime-node runs inference
 * synchronously on the thread that calls run(), so running it here keeps the daemon's event loop free for frames,
 * sharp callbacks and MQTT while the model computes.
 */
import { parentPort } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

const port = parentPort!;
let session: InferenceSession | undefined;
let ort: typeof import('onnxruntime-node') | undefined;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function handle(m: WorkerRequest): Promise<void> {
  if (m.op === 'create') {
    ort = await import('onnxruntime-node');
    // As in session.ts: provider-library failures are reported to the caller, not printed by ORT's logger.
    if (ort.env.logLevel === undefined || ort.env.logLevel === 'warning') ort.env.logLevel = 'fatal';
    session = await ort.InferenceSession.create(m.bytes, m.options);
    reply({ op: 'created', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
  } else if (m.op === 'run') {
    const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
    for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort!.Tensor('float32', t.data, t.dims);
    const results = await session!.run(feeds);
    const outputs: Extract<WorkerReply, { op: 'result' }>['outputs'] = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(results)) {
      const data = t.data as ArrayBufferView;
      outputs[name] = { data, dims: [...t.dims], type: t.type };
      if (data.buffer instanceof ArrayBuffer && !transfer.includes(data.buffer)) transfer.push(data.buffer);
    }
    reply({ op: 'result', id: m.id, outputs }, transfer);
  } else {
    await session?.release();
    session = undefined;
    reply({ op: 'released' });
  }
}

port.on('message', (m: WorkerRequest) => {
  handle(m).catch((err: unknown) => {
    reply({ op: 'error', ...(m.op === 'run' ? { id: m.id } : {}), message: err instanceof Error ? err.message : String(err) });
  });
});
