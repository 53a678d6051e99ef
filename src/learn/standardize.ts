import type { DenseLayerWeights } from './models.js';

/**
 * Per-dimension standardisation of embeddings for head training. Backbone features are non-negative
 * and unevenly scaled (ReLU6 outputs, MODELS.md); centring and scaling them lets Adam fit a linear head
 * in far fewer epochs. The shift and scale are folded into the first Dense layer afterwards, so the
 * exported graph still reads the raw embedding: W'[i][j] = W[i][j] / s[i], b'[j] = b[j] − Σ_i μ[i]/s[i]·W[i][j].
 */
export interface Standardizer {
  mean: Float32Array;
  scale: Float32Array;
}

export function fitStandardizer(x: Float32Array, dim: number): Standardizer {
  const n = x.length / dim;
  const mean = new Float32Array(dim);
  const scale = new Float32Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i]! += x[r * dim + i]! / n;
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) scale[i]! += (x[r * dim + i]! - mean[i]!) ** 2 / n;
  // A dimension that never varies (dead feature) gets scale 1: dividing by ~0 would blow it up.
  for (let i = 0; i < dim; i++) scale[i] = scale[i]! > 1e-8 ? Math.sqrt(scale[i]!) : 1;
  return { mean, scale };
}

export function standardize(x: Float32Array, s: Standardizer): Float32Array {
  const dim = s.mean.length;
  const out = new Float32Array(x.length);
  for (let k = 0; k < x.length; k++) out[k] = (x[k]! - s.mean[k % dim]!) / s.scale[k % dim]!;
  return out;
}

/** First layer rewritten to take raw embeddings: same outputs as standardize-then-layer. */
export function foldIntoFirstLayer(layers: DenseLayerWeights[], s: Standardizer): DenseLayerWeights[] {
  const [first, ...rest] = layers;
  const { inDim, outDim } = first!;
  const weights = new Float32Array(first!.weights.length);
  const bias = Float32Array.from(first!.bias);
  for (let i = 0; i < inDim; i++) {
    for (let j = 0; j < outDim; j++) {
      const w = first!.weights[i * outDim + j]! / s.scale[i]!;
      weights[i * outDim + j] = w;
      bias[j]! -= s.mean[i]! * w;
    }
  }
  return [{ ...first!, weights, bias }, ...rest];
}
