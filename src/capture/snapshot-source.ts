import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';
import { errorMessage } from '../errors.js';
import { BaseSource } from './base-source.js';
import { CaptureError } from './errors.js';
import { maskCredentials } from './mask.js';
import type { CaptureOptions } from './source.js';

export type FetchFn = (input: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

export interface SnapshotSourceOptions extends CaptureOptions {
  /** http(s) URL answering one JPEG per request; credentials in the URL become HTTP basic auth. */
  url: string;
  /** Per-request time limit (default 5000 ms). */
  timeoutMs?: number;
  username?: string;
  password?: string;
  /** Failed polls in a row before the source gives up and reports an error (default 3). */
  maxConsecutiveFailures?: number;
  /** Bodies larger than this are rejected (default 20 MiB). */
  maxBytes?: number;
}

export interface SnapshotSourceDeps {
  logger: Logger;
  clock: Clock;
  /** Defaults to the global fetch. */
  fetch?: FetchFn;
}

/** Splits credentials out of the URL: Node's fetch refuses URLs that carry them. */
function parseSnapshotUrl(raw: string): { url: string; username?: string; password?: string } {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new CaptureError('CAPTURE_SPEC_INVALID', `"${maskCredentials(raw)}" is not a URL; write e.g. snapshot:http://192.168.1.50/capture.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CaptureError('CAPTURE_SPEC_INVALID', `Snapshot URLs must be http or https, got ${parsed.protocol}. For RTSP use ffmpeg:<url>.`);
  }
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), username, password };
}

/**
 * Polls an HTTP(S) URL that returns a JPEG (ESP32-CAM `/capture`, IP cameras' snapshot URLs) at `fps` (default 1).
 * A failed poll (HTTP status, timeout, non-JPEG body) is logged and counted; after `maxConsecutiveFailures` in a row
 * the source fails with the last reason and the watchdog takes over.
 */
export class SnapshotSource extends BaseSource {
  readonly description: string;
  /** Polls that failed (any reason). */
  failedPolls = 0;
  private readonly target: { url: string; headers: Record<string, string> };
  private running = false;
  private abort: AbortController | undefined;
  private consecutiveFailures = 0;

  constructor(private readonly deps: SnapshotSourceDeps, private readonly options: SnapshotSourceOptions) {
    super(deps);
    this.description = `snapshot:${maskCredentials(options.url)}`;
    const { url, username, password } = parseSnapshotUrl(options.url);
    const user = options.username ?? username;
    const pass = options.password ?? password ?? '';
    const headers: Record<string, string> = { accept: 'image/jpeg' };
    if (user !== undefined) headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    this.target = { url, headers };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const fps = this.options.fps ?? 1;
    if (!Number.isFinite(fps) || fps <= 0) throw new CaptureError('CAPTURE_OPTIONS_INVALID', `fps must be a positive number, got ${fps}.`);
    this.running = true;
    this.consecutiveFailures = 0;
    this.setStatus('starting');
    this.scheduleTick(0, () => this.poll());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelTick();
    this.abort?.abort();
    this.setStatus('offline');
  }

  private async poll(): Promise<void> {
    const began = this.deps.clock.now();
    try {
      const jpeg = await this.fetchOnce();
      if (!this.running) return;
      this.consecutiveFailures = 0;
      this.setStatus('online');
      this.emitFrame(jpeg);
    } catch (err) {
      if (!this.running) return;
      this.failedPolls += 1;
      this.consecutiveFailures += 1;
      this.deps.logger.warn({ source: this.description, err: errorMessage(err), inARow: this.consecutiveFailures }, 'snapshot poll failed');
      if (this.consecutiveFailures >= (this.options.maxConsecutiveFailures ?? 3)) {
        this.running = false;
        this.fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
    }
    if (!this.running) return;
    const period = 1000 / (this.options.fps ?? 1);
    this.scheduleTick(Math.max(0, period - (this.deps.clock.now() - began)), () => this.poll());
  }

  private async fetchOnce(): Promise<Buffer> {
    const timeoutMs = this.options.timeoutMs ?? 5000;
    const abort = new AbortController();
    this.abort = abort;
    let timedOut = false;
    const timer = this.deps.clock.setTimeout(() => { timedOut = true; abort.abort(); }, timeoutMs);
    try {
      const res = await (this.deps.fetch ?? fetch)(this.target.url, { headers: this.target.headers, signal: abort.signal });
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        const hint = res.status === 401 || res.status === 403 ? 'check the user and password' : res.status === 404 ? 'check the path (ESP32-CAM: /capture)' : 'check the camera';
        throw new CaptureError('SNAPSHOT_HTTP', `${this.description} answered HTTP ${res.status} ${res.statusText}: ${hint}.`);
      }
      const declared = Number(res.headers.get('content-length') ?? 0);
      const maxBytes = this.options.maxBytes ?? 20 * 1024 * 1024;
      if (declared > maxBytes) {
        await res.body?.cancel().catch(() => {});
        throw new CaptureError('SNAPSHOT_NOT_JPEG', `${this.description} sent ${declared} bytes, more than the ${maxBytes} allowed for one image.`);
      }
      const body = Buffer.from(await res.arrayBuffer());
      if (body.length < 4 || body[0] !== 0xff || body[1] !== 0xd8 || body.length > maxBytes) {
        throw new CaptureError('SNAPSHOT_NOT_JPEG', `${this.description} did not return a JPEG (content-type ${res.headers.get('content-type') ?? 'none'}, ${body.length} bytes): point it at the camera's still-image URL.`);
      }
      return body;
    } catch (err) {
      if (err instanceof CaptureError) throw err;
      if (timedOut) throw new CaptureError('SNAPSHOT_TIMEOUT', `${this.description} did not answer within ${timeoutMs} ms: check the camera is powered and on the network.`, { cause: err });
      throw new CaptureError('SNAPSHOT_FAILED', `${this.description} could not be fetched: ${maskCredentials(errorMessage(err))}${err instanceof Error && err.cause ? ` (${errorMessage(err.cause)})` : ''}.`, { cause: err });
    } finally {
      this.deps.clock.clearTimeout(timer);
      if (this.abort === abort) this.abort = undefined;
    }
  }
}
