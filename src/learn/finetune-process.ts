import { fork as nodeFork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { EdgecamError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ModelStore } from '../models/store.js';
import type { FinetuneOptions, FinetuneProgress, FinetuneResult } from './finetune.js';
import type { WorkerMessage, WorkerRequest } from './finetune-worker.js';

/**
 * Runs fine-tuning in a child process at low CPU priority (nice 19 by default), relays its progress, and, when
 * the gate accepts the candidate, activates it in the store and lets the caller swap it in (`onActivated`).
 */

export const WORKER_PATH = fileURLToPath(new URL('./finetune-worker.js', import.meta.url));

export interface FinetuneProcessDeps {
  logger: Logger;
  fork?: typeof nodeFork;
  setPriority?: (pid: number, priority: number) => void;
}

export interface FinetuneRun {
  /** Kills the child (daemon stopping); the promise then rejects with FINETUNE_CANCELLED. */
  cancel(): void;
  result: Promise<FinetuneResult>;
}

export function startFinetuneProcess(deps: FinetuneProcessDeps, options: FinetuneOptions, o: { nice?: number; logLevel?: string; onProgress?: (p: FinetuneProgress) => void } = {}): FinetuneRun {
  const child: ChildProcess = (deps.fork ?? nodeFork)(WORKER_PATH, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const nice = o.nice ?? 19;
  try {
    if (child.pid) (deps.setPriority ?? os.setPriority)(child.pid, nice);
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message }, 'could not lower the fine-tune process priority; it competes with classification at normal priority');
  }
  let cancelled = false;
  const result = new Promise<FinetuneResult>((resolve, reject) => {
    let settled = false;
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') o.onProgress?.(m.progress);
      else if (m.type === 'result') { settled = true; resolve(m.result); }
      else if (m.type === 'error') { settled = true; reject(new EdgecamError(m.code, `fine-tuning failed: ${m.message}`)); }
    });
    child.on('error', (err) => { if (!settled) { settled = true; reject(new EdgecamError('FINETUNE_SPAWN_FAILED', `could not start the fine-tune process: ${err.message}`, { cause: err })); } });
    child.on('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      reject(cancelled
        ? new EdgecamError('FINETUNE_CANCELLED', 'fine-tuning was cancelled (the daemon is stopping); nothing was activated')
        : new EdgecamError('FINETUNE_CRASHED', `the fine-tune process ended without an answer (exit ${code ?? signal}); see the log above. Nothing was activated.`));
    });
  });
  const request: WorkerRequest = { type: 'run', options, ...(o.logLevel ? { logLevel: o.logLevel } : {}) };
  child.send(request);
  return { cancel: () => { cancelled = true; child.kill('SIGKILL'); }, result };
}

export interface FinetuneOutcome extends FinetuneResult {
  activated: boolean;
  /** Seconds from start to the new model active (activation + swap included). */
  secondsToActive?: number;
}

/** Fine-tune, then activate an accepted candidate and hand it to `onActivated` (the daemon's hot swap). */
export async function finetuneAndActivate(deps: FinetuneProcessDeps, options: FinetuneOptions, o: {
  nice?: number; logLevel?: string; onProgress?: (p: FinetuneProgress) => void; onActivated?: (dir: string, version: string) => Promise<void>; onStart?: (run: FinetuneRun) => void;
} = {}): Promise<FinetuneOutcome> {
  const started = performance.now();
  const run = startFinetuneProcess(deps, options, o);
  o.onStart?.(run);
  const result = await run.result;
  if (!result.accepted) {
    o.onProgress?.({ state: 'rejected', message: result.reason, ...(result.candidateAccuracy !== null ? { accuracy: result.candidateAccuracy } : {}) });
    return { ...result, activated: false };
  }
  const store = new ModelStore({ logger: deps.logger }, options.models);
  await store.activate(result.version);
  try {
    await o.onActivated?.(store.activeDir, result.version);
  } catch (err) {
    // The daemon would not take it: go back, so the store and what serves agree.
    await store.rollback().catch(() => undefined);
    throw new EdgecamError('FINETUNE_SWAP_FAILED', `the new model ${result.version} was stored but could not be swapped in (${(err as Error).message}); rolled back to ${result.parentVersion}`, { cause: err });
  }
  const secondsToActive = (performance.now() - started) / 1000;
  o.onProgress?.({ state: 'activated', ...(result.candidateAccuracy !== null ? { accuracy: result.candidateAccuracy } : {}), message: `${result.version} active (${result.reason})` });
  return { ...result, activated: true, secondsToActive };
}
