import type { IncomingMessage, ServerResponse } from 'node:http';
import { EdgecamError } from '../errors.js';

/** Small request/response helpers shared by the web page's JSON endpoints. */

/** An API error with the HTTP status to answer; the message is shown on the page as is. */
export class ApiError extends EdgecamError {
  constructor(readonly status: number, code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ApiError';
  }
}

/** HTTP status for an error thrown by a handler: ApiError's own, 400 for other EdgecamErrors (bad input), else 500. */
export function statusOf(err: unknown): number {
  if (err instanceof ApiError) return err.status;
  if (err instanceof EdgecamError) return /NOT_FOUND|NO_VERSION/.test(err.code) ? 404 : 400;
  return 500;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

export function sendBytes(res: ServerResponse, type: string, data: Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': type, 'content-length': String(data.byteLength), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : data);
}

/** Reads a JSON object body of at most `limit` bytes; anything else is a 400/413 with a message saying what was wrong. */
export async function readJsonBody(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError(413, 'API_BODY_TOO_LARGE', `The request body is larger than ${limit} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'API_BAD_JSON', 'The request body is not valid JSON.', { cause: err });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ApiError(400, 'API_BAD_JSON', 'The request body must be a JSON object.');
  return value as Record<string, unknown>;
}

/** Content type from an image's magic bytes (cameras send JPEG; folder replay may hand over PNG or WebP). */
export function imageType(data: Uint8Array): string {
  if (data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg';
  if (data[0] === 0x89 && data[1] === 0x50) return 'image/png';
  if (Buffer.from(data.subarray(8, 12)).toString('latin1') === 'WEBP') return 'image/webp';
  if (Buffer.from(data.subarray(0, 3)).toString('latin1') === 'GIF') return 'image/gif';
  return 'application/octet-stream';
}
