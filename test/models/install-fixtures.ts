import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { sha256Hex } from '../../src/models/sha256.js';
import { packModelTar } from '../../src/models/store/tar.js';
import type { ManifestInput } from '../../src/models/manifest.js';
import { tinyClassifierOnnx, tinyManifest } from '../fakes/onnx-fixtures.js';

/** An update archive (tar.gz of a model folder) built from a graph and a manifest, with any lie the test wants. */
export function updateArchive(modelBytes: Uint8Array, manifest: Omit<ManifestInput, 'sha256'> & { sha256?: string }): Uint8Array {
  const full = { ...manifest, sha256: manifest.sha256 ?? sha256Hex(modelBytes) };
  return packModelTar({ 'model.onnx': modelBytes, 'manifest.json': `${JSON.stringify(full, null, 2)}\n`, 'labels.txt': `${manifest.labels.join('\n')}\n` });
}

export function goodUpdate(version: string, seed = 2): Uint8Array {
  return updateArchive(tinyClassifierOnnx({ seed }), { ...tinyManifest({ version }), created: '2024-02-01T00:00:00.000Z' });
}

/** Loads fine (the batch dimension is symbolic) but fails when run: 3 values cannot be reshaped into rows of 2. */
export function throwsAtRunTime(version: string): Uint8Array {
  const b = new GraphBuilder({ name: 'throws' });
  let x = b.input('input', ['N', 3, 32, 32]);
  x = b.reshape(b.flatten(b.globalAveragePool(x)), [-1, 2]);
  x = b.gemm(x, { data: new Float32Array(6).fill(0.1), dims: [3, 2] }, { data: new Float32Array(3), dims: [3] }, { transB: true });
  b.output(b.softmax(x, 1, 'probs'), ['N', 3]);
  return updateArchive(b.toBytes(), { ...tinyManifest({ version }), created: '2024-02-01T00:00:00.000Z' });
}

export interface UpdateServer {
  url: string;
  /** Range headers received, in order. */
  ranges: (string | undefined)[];
  serve(path: string, body: Uint8Array, mode?: 'ok' | 'truncate' | 'stall'): void;
  close(): Promise<void>;
}

/** A local HTTP server publishing updates: honours Range (206), or breaks the transfer on purpose. */
export async function startUpdateServer(): Promise<UpdateServer> {
  const routes = new Map<string, { body: Uint8Array; mode: 'ok' | 'truncate' | 'stall' }>();
  const ranges: (string | undefined)[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const route = routes.get(req.url ?? '');
    ranges.push(req.headers.range);
    if (!route) { res.writeHead(404).end('not found'); return; }
    const { body, mode } = route;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    if (start >= body.length && m) { res.writeHead(416).end(); return; }
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': slice.length, 'content-type': 'application/gzip', ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    if (mode === 'ok') { res.end(Buffer.from(slice)); return; }
    res.write(Buffer.from(slice.subarray(0, Math.floor(slice.length / 2))));
    if (mode === 'truncate') setTimeout(() => res.socket?.destroy(), 50);
    // 'stall': keep the connection open without sending more
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, ranges,
    serve: (path, body, mode = 'ok') => { routes.set(path, { body, mode }); },
    close: async () => { for (const s of sockets) s.destroy(); await new Promise<void>((r) => server.close(() => r())); },
  };
}
