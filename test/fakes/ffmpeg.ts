/**
 * Real ffmpeg test streams for capture and fault tests (no camera needed). Everything binds to 127.0.0.1 on free ports.
 * Requires ffmpeg on PATH (Debian: apt install ffmpeg).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

export interface LavfiOptions {
  fps?: number;
  /** WIDTHxHEIGHT, default 320x240. */
  size?: string;
}

/** FfmpegSource input for a live test pattern: `ffmpeg:` + this gives `fps` frames/s in real time (-re). */
export function lavfiInput({ fps = 10, size = '320x240' }: LavfiOptions = {}): string {
  return `-re -f lavfi -i testsrc=size=${size}:rate=${fps}`;
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when 127.0.0.1:port is in LISTEN state. Reads /proc/net/tcp because probing would use up `-listen 1`'s one client. */
export async function isListening(port: number): Promise<boolean> {
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1]?.endsWith(`:${hexPort}`) === true && cols[3] === '0A';
  });
}

/** True when the process no longer exists, not even as a zombie waiting to be reaped. */
export function isProcessGone(pid: number): boolean {
  // A zombie keeps its /proc entry until reaped, so an existing entry means "not gone" either way.
  return !existsSync(`/proc/${pid}`);
}

/** Polls `check` every 25 ms until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

export interface LavfiMjpegServer {
  /** http://127.0.0.1:PORT, for `ffmpeg:<url>`. */
  readonly url: string;
  readonly port: number;
  /** pid of the current server ffmpeg (changes after restart()). */
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM, then SIGKILL after 2 s); waits for exit. Safe twice. */
  stop(): Promise<void>;
  /** Abrupt death (SIGKILL), like a camera losing power; waits for exit. */
  kill(): Promise<void>;
  /** Starts a new server ffmpeg on the same port (after kill/stop, or after it exited when its client left). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server stays connected but sends nothing (a stalled camera). */
  pause(): void;
  resume(): void;
}

/**
 * A separate ffmpeg serving a live test pattern as HTTP multipart MJPEG (what many IP cameras do), FIELD-NOTES:
 * `-f mpjpeg -listen 1`. It serves one client; when that client disconnects the server exits (call restart()).
 */
export async function startLavfiMjpegServer(options: LavfiOptions & { port?: number } = {}): Promise<LavfiMjpegServer> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', ...lavfiInput(options).split(' '),
      '-f', 'mpjpeg', '-vcodec', 'mjpeg', '-q:v', '5', '-content_type', 'multipart/x-mixed-replace;boundary=ffmpeg', '-listen', '1', url];
    const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
    child = proc;
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const up = await waitFor(async () => proc.exitCode !== null || (await isListening(port)), 10000);
    if (!up || proc.exitCode !== null) throw new Error(`MJPEG test server on ${url} did not start: ${stderr}`);
  };

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT');
    proc.kill(signal);
    const force = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(force);
  };

  await launch();
  return {
    url,
    port,
    get pid() { return child?.pid; },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => { await end('SIGKILL'); await launch(); },
    pause: () => { child?.kill('SIGSTOP'); },
    resume: () => { child?.kill('SIGCONT'); },
  };
}

/**
 * A drop-in `spawn` for FfmpegSource that ignores the ffmpeg arguments and starts a real process writing garbage to
 * stdout (~1 MB/s): text, bytes without markers, and fake JPEG starts (SOI + APP0 header) followed by junk that never
 * completes a frame. A splitter must yield no frames from it and keep its buffer bounded.
 */
export function garbageSpawn(): (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess {
  const script = `
    let x = 12345;
    const rnd = () => (x = (x * 1103515245 + 12345) & 0x7fffffff);
    setInterval(() => {
      const chunk = Buffer.alloc(65536);
      for (let i = 0; i < chunk.length; i++) chunk[i] = rnd() % 0xfe; // never 0xFF: no accidental markers
      chunk.write('this is not a jpeg\\n', 0);
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]).copy(chunk, 1000); // a frame start whose header never continues
      process.stdout.write(chunk);
    }, 50);`;
  return (_command, _args, options) => spawn(process.execPath, ['-e', script], options);
}
