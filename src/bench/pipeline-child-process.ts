import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EdgecamError } from '../errors.js';
import type { ParentCommand, PipelineFigures, PipelineMessage, PipelineRunOptions, WindowFigures } from './pipeline-run.js';
import type { RssSample } from './stats.js';

const CHILD = fileURLToPath(new URL('./pipeline-child.js', import.meta.url));

/** The parent's handle on the pipeline child (pipeline-child.ts): commands out, windows/samples/result in. */
export class PipelineChild {
  private readonly waiting: { type: PipelineMessage['type']; resolve: (m: PipelineMessage) => void; reject: (e: Error) => void }[] = [];
  private readonly inbox: PipelineMessage[] = [];
  private failure: Error | undefined;
  private stderr = '';
  private readonly child: ChildProcess;

  constructor(options: PipelineRunOptions, private readonly onSample: (s: RssSample) => void) {
    this.child = fork(CHILD, [JSON.stringify(options)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    this.child.on('message', (m: PipelineMessage) => this.receive(m));
    this.child.on('exit', (code) => this.fail(new EdgecamError('BENCH_PIPELINE', `the pipeline process exited (code ${code}) before reporting: ${this.stderr.trim().slice(-1500)}`)));
  }

  send(cmd: ParentCommand): void {
    this.child.send(cmd);
  }

  async ready(): Promise<void> {
    await this.next('ready');
  }

  async window(): Promise<WindowFigures> {
    return ((await this.next('window')) as Extract<PipelineMessage, { type: 'window' }>).window;
  }

  async result(): Promise<PipelineFigures> {
    return ((await this.next('result')) as Extract<PipelineMessage, { type: 'result' }>).figures;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  private next(type: PipelineMessage['type']): Promise<PipelineMessage> {
    const i = this.inbox.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ type, resolve, reject }));
  }

  private receive(m: PipelineMessage): void {
    if (m.type === 'sample') { this.onSample(m.sample); return; }
    if (m.type === 'error') { this.fail(new EdgecamError('BENCH_PIPELINE', `the pipeline run failed: ${m.message}`)); return; }
    const i = this.waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    else this.inbox.push(m);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
}
