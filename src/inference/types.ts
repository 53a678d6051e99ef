import type { Manifest } from '../models/manifest.js';
import type { Scores, Tensor } from '../types.js';

export type ExecutionProvider = 'tensorrt' | 'cuda' | 'cpu';

export interface Classification {
  scores: Scores;
  /** Present when the manifest declares an embedding output (backbones, transfer models). */
  embedding?: Float32Array;
  /** Time spent inside ONNX Runtime for this call. */
  latencyMs: number;
}

/** A loaded model ready to classify preprocessed tensors. */
export interface Classifier {
  readonly manifest: Manifest;
  /** The execution provider actually in use (after fallback). */
  readonly provider: ExecutionProvider;
  classify(input: Tensor): Promise<Classification>;
  dispose(): Promise<void>;
}

/** A tensor as ONNX Runtime hands it back (only what edgecam reads). */
export interface OrtTensorLike {
  readonly data: unknown;
  readonly dims: readonly number[];
  readonly type?: string;
}

/**
 * The part of onnxruntime-node's InferenceSession the engine uses, fed plain float tensors (the real adapter,
 * createOrtSession in src/inference/session.ts, wraps them in ort.Tensor). Tests inject factories that fail
 * like a missing CUDA library does.
 */
export interface SessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Tensor>): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

/** Options handed to the session factory: onnxruntime-node's InferenceSession.SessionOptions. */
export type SessionOptionsLike = import('onnxruntime-node').InferenceSession.SessionOptions;

export type SessionFactory = (modelBytes: Uint8Array, options: SessionOptionsLike) => Promise<SessionLike>;
