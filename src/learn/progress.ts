import type { Logger } from '../logger.js';
import type { EpochLogs, FitReporter } from './train.js';

/**
 * Progress for long steps: a cli-progress bar per epoch (loss/accuracy as it goes) when stderr is a
 * terminal, and one log line per epoch always, so journald/CI logs show the run too.
 */
export interface ProgressSink {
  /** A bar for a counted task (loading images, computing embeddings). */
  task(title: string, total: number): { update(done: number): void; stop(): void };
  fit: FitReporter;
}

function epochLine(l: EpochLogs): Record<string, number | null> {
  const r = (v: number | null, d = 4) => (v === null ? null : Number(v.toFixed(d)));
  return { epoch: l.epoch, lr: l.lr, loss: r(l.loss), acc: r(l.acc), valLoss: r(l.valLoss), valAcc: r(l.valAcc), seconds: r(l.seconds, 1), imagesPerSecond: r(l.imagesPerSecond, 1) };
}

function epochText(logs: EpochLogs, improved: boolean): string {
  const val = logs.valLoss === null ? '' : `  val_loss ${logs.valLoss.toFixed(4)}  val_acc ${logs.valAcc!.toFixed(3)}`;
  return `epoch ${logs.epoch}: loss ${logs.loss.toFixed(4)}  acc ${logs.acc.toFixed(3)}${val}  ${logs.imagesPerSecond.toFixed(0)} img/s  ${logs.seconds.toFixed(0)} s${improved ? '  *best' : ''}`;
}

/** Log lines only (tests, non-interactive runs). */
export function logProgress(logger: Logger): ProgressSink {
  return {
    task: () => ({ update: () => {}, stop: () => {} }),
    fit: { epochEnd: (logs, improved) => logger.info({ ...epochLine(logs), improved }, 'epoch done') },
  };
}

/** cli-progress bars on stderr when it is a TTY, plus the log lines. */
export async function terminalProgress(logger: Logger, stream: NodeJS.WriteStream = process.stderr): Promise<ProgressSink> {
  const base = logProgress(logger);
  if (!stream.isTTY) {
    // No bars in a pipe or a log file, but still one line per epoch so a long run shows it is alive.
    return { task: base.task, fit: { epochEnd: (logs, improved) => { stream.write(`${epochText(logs, improved)}\n`); base.fit.epochEnd?.(logs, improved); } } };
  }
  const { SingleBar, Presets } = await import('cli-progress');
  let bar: InstanceType<typeof SingleBar> | undefined;
  return {
    task(title, total) {
      const b = new SingleBar({ stream, format: `${title} [{bar}] {value}/{total} {eta_formatted}`, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
      b.start(total, 0);
      return { update: (done) => b.update(done), stop: () => b.stop() };
    },
    fit: {
      epochStart(epoch, epochs, batches) {
        bar = new SingleBar({ stream, format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} batches  loss {loss}  acc {acc}`, hideCursor: true, clearOnComplete: true }, Presets.shades_classic);
        bar.start(batches, 0, { loss: '-', acc: '-' });
      },
      batchEnd(batch, running) {
        bar?.update(batch, { loss: running.loss.toFixed(4), acc: running.acc.toFixed(3) });
      },
      epochEnd(logs, improved) {
        bar?.stop();
        bar = undefined;
        stream.write(`${epochText(logs, improved)}\n`);
        base.fit.epochEnd?.(logs, improved);
      },
    },
  };
}
