import { createHash } from 'node:crypto';

/** Lowercase hex SHA-256 of some bytes: the form manifest.sha256 stores for model.onnx. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
