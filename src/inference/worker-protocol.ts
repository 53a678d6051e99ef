/** Messages between worker-session.ts (event-loop side) and ort-worker.ts (the ONNX Runtime thread). */

import type { SessionOptionsLike } from './types.js';

export type WorkerRequest =
  | { op: 'create'; bytes: Uint8Array; options: SessionOptionsLike }
  | { op: 'run'; id: number; feeds: Record<string, { data: Float32Array; dims: number[] }> }
  | { op: 'release' };

export type WorkerReply =
  | { op: 'created'; inputNames: string[]; outputNames: string[] }
  | { op: 'result'; id: number; outputs: Record<string, { data: unknown; dims: number[]; type: string }> }
  | { op: 'released' }
  | { op: 'error'; id?: number; message: string };
