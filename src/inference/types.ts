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
