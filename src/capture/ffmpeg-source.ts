import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { Logger } from '../logger.js';
import type { Clock } from '../types.js';
import { BaseSource } from './base-source.js';
import { CaptureError } from './errors.js';
import { buildFfmpegArgs, ffmpegHint, type FfmpegInputOptions } from './ffmpeg-args.js';
import { maskCredentials, StderrTail } from './mask.js';
import { MjpegSplitter } from './mjpeg-splitter.js';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface FfmpegSourceDeps {
  logger: Logger;
  clock: Clock;
  /** Defaults to node:child_process spawn. */
  spawn?: SpawnFn;
}

export interface FfmpegSourceOptions extends FfmpegInputOptions {
  /** Default `ffmpeg` from PATH. */
  ffmpegPath?: string;
  /** Frames larger than this are dropped (default 16 MiB). */
  maxFrameBytes?: number;
  /** After SIGTERM, how long stop() waits before SIGKILL (default 2000 ms). */
  killTimeoutMs?: number;
}

/**
 * One long-lived ffmpeg process whose MJPEG stdout is split into frames in memory (no temp files).
 * When ffmpeg exits on its own the source emits a CaptureError (FFMPEG_EXITED) with ffmpeg's last stderr lines and
 * a hint, and goes 'offline'; restarting is the watchdog's job.
 */
export class FfmpegSource extends BaseSource {
  readonly description: string;
  private child: ChildProcess | undefined;
  private closed: Promise<void> = Promise.resolve();
  private stopping = false;
  private splitter: MjpegSplitter;
  private stderrTail = new StderrTail();
  private readonly args: string[];

  constructor(private readonly deps: FfmpegSourceDeps, private readonly options: FfmpegSourceOptions) {
    super(deps);
    this.description = `ffmpeg:${maskCredentials(options.input)}`;
    this.args = buildFfmpegArgs(options); // validates now, so a wrong spec fails at configuration time
    this.splitter = new MjpegSplitter({ maxFrameBytes: options.maxFrameBytes });
  }

  /** Process id of the running ffmpeg (tests use it to SIGSTOP it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Splitter counters: frames, garbage bytes discarded, frames dropped, bytes currently buffered. */
  get splitterStats(): { framesOut: number; discardedBytes: number; droppedFrames: number; bufferedBytes: number } {
    const s = this.splitter;
    return { framesOut: s.framesOut, discardedBytes: s.discardedBytes, droppedFrames: s.droppedFrames, bufferedBytes: s.bufferedBytes };
  }

  async start(): Promise<void> {
    if (this.child) return;
    const args = this.args;
    const command = this.options.ffmpegPath ?? 'ffmpeg';
    this.deps.logger.debug({ command, args: args.map(maskCredentials) }, 'starting ffmpeg');
    this.stopping = false;
    this.splitter = new MjpegSplitter({ maxFrameBytes: this.options.maxFrameBytes });
    this.stderrTail = new StderrTail();
    this.setStatus('starting');
    const child = (this.deps.spawn ?? nodeSpawn)(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
    child.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.stderrTail.push(chunk));
    child.stdout?.on('error', () => {});
    child.stderr?.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err: NodeJS.ErrnoException) => {
        this.child = undefined;
        reject(err.code === 'ENOENT'
          ? new CaptureError('FFMPEG_NOT_FOUND', `ffmpeg was not found ("${command}"). Install it: sudo apt install ffmpeg.`, { cause: err })
          : new CaptureError('FFMPEG_EXITED', `ffmpeg could not be started: ${err.message}`, { cause: err }));
      });
    });
    child.on('error', (err) => this.deps.logger.warn({ err: err.message }, 'ffmpeg process error'));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.stopping = true;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      // SIGCONT first: a stopped (SIGSTOPped, stalled) process only acts on SIGTERM once it runs again.
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = this.deps.clock.setTimeout(() => child.kill('SIGKILL'), this.options.killTimeoutMs ?? 2000);
      await this.closed;
      this.deps.clock.clearTimeout(timer);
    } else {
      await this.closed;
    }
    this.setStatus('offline');
  }

  private onData(chunk: Buffer): void {
    for (const jpeg of this.splitter.push(chunk)) {
      if (this.status !== 'online') this.setStatus('online');
      this.emitFrame(jpeg);
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.child !== child) return;
    this.child = undefined;
    // Wait for stdio to close so the last stderr lines are in the tail before explaining the exit.
    void this.closed.then(() => {
      if (this.stopping) return;
      const stderr = this.stderrTail.text();
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const last = stderr ? `\n${stderr.split('\n').slice(-5).join('\n')}` : '';
      this.fail(new CaptureError('FFMPEG_EXITED', `ffmpeg for ${this.description} ${how}. ${ffmpegHint(stderr)}${last}`));
    });
  }
}
