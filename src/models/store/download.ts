import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EdgecamError, errorMessage } from '../../errors.js';
import { MAX_UPDATE_BYTES } from './tar.js';

/**
 * Download to a `.part` file with resume: if a previous attempt left bytes, ask for the rest with `Range`;
 * a server that ignores Range (200) restarts from zero. A stall longer than `stallTimeoutMs` aborts, keeping
 * the part for next time. The caller checks sha256/signature of the finished file; a body shorter than its
 * Content-Length is reported as truncated.
 */

export type FetchFn = typeof fetch;

export interface DownloadResult {
  path: string;
  bytes: number;
  resumedFrom: number;
}

export async function downloadWithResume(fetchFn: FetchFn, url: string, partPath: string, stallTimeoutMs: number): Promise<DownloadResult> {
  await mkdir(dirname(partPath), { recursive: true });
  const have = (await stat(partPath).catch(() => undefined))?.size ?? 0;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new EdgecamError('UPDATE_DOWNLOAD_TIMEOUT', `no data from ${url} for ${stallTimeoutMs / 1000} s`)), stallTimeoutMs);
  };
  arm();
  let response: Response;
  try {
    response = await fetchFn(url, { signal: controller.signal, headers: have > 0 ? { Range: `bytes=${have}-` } : {} });
  } catch (err) {
    clearTimeout(timer);
    throw failed(url, controller.signal.reason ?? err, have);
  }
  if (response.status === 416 && have > 0) {
    clearTimeout(timer); // the part is already complete (Range beyond the end)
    await response.body?.cancel();
    return { path: partPath, bytes: have, resumedFrom: have };
  }
  if (!response.ok) {
    clearTimeout(timer);
    await response.body?.cancel().catch(() => undefined);
    throw new EdgecamError('UPDATE_DOWNLOAD_FAILED', `${url} answered HTTP ${response.status} ${response.statusText}; check the URL (nothing was installed)`);
  }
  const resuming = response.status === 206 && have > 0;
  const expected = Number(response.headers.get('content-length') ?? NaN) + (resuming ? have : 0);
  if (expected > MAX_UPDATE_BYTES) throw new EdgecamError('UPDATE_TOO_LARGE', `${url} is ${expected} bytes, more than a model update may be (${MAX_UPDATE_BYTES})`);
  const fh = await open(partPath, resuming ? 'a' : 'w');
  let written = resuming ? have : 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      arm();
      await fh.write(chunk);
      written += chunk.byteLength;
      if (written > MAX_UPDATE_BYTES) throw new EdgecamError('UPDATE_TOO_LARGE', `${url} sent more than ${MAX_UPDATE_BYTES} bytes`);
    }
    await fh.sync();
  } catch (err) {
    throw failed(url, controller.signal.reason ?? err, written);
  } finally {
    clearTimeout(timer);
    await fh.close();
  }
  if (Number.isFinite(expected) && written !== expected) {
    throw new EdgecamError('UPDATE_DOWNLOAD_TRUNCATED', `the download of ${url} stopped at ${written} of ${expected} bytes; run the install again to resume (nothing was installed)`);
  }
  return { path: partPath, bytes: written, resumedFrom: resuming ? have : 0 };
}

function failed(url: string, err: unknown, have: number): EdgecamError {
  if (err instanceof EdgecamError) {
    return new EdgecamError(err.code, `${err.message}; ${have} bytes kept, run the install again to resume (nothing was installed)`, { cause: err });
  }
  return new EdgecamError('UPDATE_DOWNLOAD_FAILED', `downloading ${url} failed after ${have} bytes (${errorMessage(err)}); run the install again to resume (nothing was installed)`, { cause: err });
}

export async function removePart(path: string): Promise<void> {
  await rm(path, { force: true });
}
