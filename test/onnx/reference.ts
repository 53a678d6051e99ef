/**
 * Plain-JS reference implementations of a few ONNX ops (NCHW, float), written straight from the
 * ONNX operator definitions, to check what ONNX Runtime computes for graphs the builder writes.
 */
export interface Nd { data: Float32Array; dims: number[] }

export function conv2d(x: Nd, w: Nd, b: Float32Array | undefined, o: { pads: number[]; strides: number[]; dilations: number[]; group: number }): Nd {
  const [n, c, h, wd] = x.dims as [number, number, number, number];
  const [m, cg, kh, kw] = w.dims as [number, number, number, number];
  const [pt, pl, pb, pr] = o.pads as [number, number, number, number];
  const [sh, sw] = o.strides as [number, number];
  const [dh, dw] = o.dilations as [number, number];
  const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((wd + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const out = new Float32Array(n * m * oh * ow);
  const mPerGroup = m / o.group;
  for (let bi = 0; bi < n; bi++) for (let mi = 0; mi < m; mi++) {
    const g = Math.floor(mi / mPerGroup);
    for (let y = 0; y < oh; y++) for (let xo = 0; xo < ow; xo++) {
      let s = b ? b[mi]! : 0;
      for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
        const iy = y * sh - pt + ky * dh, ix = xo * sw - pl + kx * dw;
        if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
        const cin = g * cg + ci;
        s += x.data[((bi * c + cin) * h + iy) * wd + ix]! * w.data[((mi * cg + ci) * kh + ky) * kw + kx]!;
      }
      out[((bi * m + mi) * oh + y) * ow + xo] = s;
    }
  }
  return { data: out, dims: [n, m, oh, ow] };
}

export function pool2d(x: Nd, kind: 'max' | 'avg', o: { kernel: number[]; strides: number[]; pads: number[]; countIncludePad?: boolean }): Nd {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const [kh, kw] = o.kernel as [number, number];
  const [pt, pl, pb, pr] = o.pads as [number, number, number, number];
  const [sh, sw] = o.strides as [number, number];
  const oh = Math.floor((h + pt + pb - kh) / sh) + 1, ow = Math.floor((w + pl + pr - kw) / sw) + 1;
  const out = new Float32Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) for (let y = 0; y < oh; y++) for (let xo = 0; xo < ow; xo++) {
    let acc = kind === 'max' ? -Infinity : 0, count = 0;
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = y * sh - pt + ky, ix = xo * sw - pl + kx;
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) { if (o.countIncludePad) count++; continue; }
      const v = x.data[(p * h + iy) * w + ix]!;
      acc = kind === 'max' ? Math.max(acc, v) : acc + v;
      count++;
    }
    out[(p * oh + y) * ow + xo] = kind === 'max' ? acc : acc / count;
  }
  return { data: out, dims: [n, c, oh, ow] };
}

export function batchNorm(x: Nd, scale: number[], bias: number[], mean: number[], variance: number[], eps: number): Nd {
  const [n, c, h, w] = x.dims as [number, number, number, number];
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const ch = Math.floor(i / (h * w)) % c;
    out[i] = ((x.data[i]! - mean[ch]!) / Math.sqrt(variance[ch]! + eps)) * scale[ch]! + bias[ch]!;
  }
  return { data: out, dims: [n, c, h, w] };
}

/** y = alpha * A · op(B) + beta * C, B given as [K,N] or (transB) [N,K]. */
export function gemm(a: Nd, b: Nd, c: Float32Array | undefined, transB: boolean, alpha = 1, beta = 1): Nd {
  const [m, k] = a.dims as [number, number];
  const nOut = transB ? b.dims[0]! : b.dims[1]!;
  const out = new Float32Array(m * nOut);
  for (let i = 0; i < m; i++) for (let j = 0; j < nOut; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a.data[i * k + t]! * (transB ? b.data[j * k + t]! : b.data[t * nOut + j]!);
    out[i * nOut + j] = alpha * s + (c ? beta * c[c.length === nOut ? j : i * nOut + j]! : 0);
  }
  return { data: out, dims: [m, nOut] };
}

export function softmaxRows(x: Nd): Nd {
  const cols = x.dims[x.dims.length - 1]!;
  const out = new Float32Array(x.data.length);
  for (let r = 0; r < x.data.length / cols; r++) {
    const row = x.data.subarray(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    const exps = Array.from(row, (v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, i) => { out[r * cols + i] = e / sum; });
  }
  return { data: out, dims: [...x.dims] };
}

/** QuantizeLinear to uint8: round half to even, saturate. */
export function quantizeU8(x: Float32Array, scale: number, zero: number): Uint8Array {
  return Uint8Array.from(x, (v) => Math.min(255, Math.max(0, roundHalfEven(v / scale) + zero)));
}
export function dequantize(q: ArrayLike<number>, scale: number, zero: number): Float32Array {
  return Float32Array.from(q, (v) => (v - zero) * scale);
}
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
