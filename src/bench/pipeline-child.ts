/**
 * Child process entry of the bench's pipeline stage: `fork(this file, [JSON options])`. Takes open/close/finish
 * commands and reports windows, samples and the result over the IPC channel, then exits (ONNX Runtime's native
 * threads may otherwise keep the process alive).
 */
import { errorMessage } from '../errors.js';
import { runPipelineBench, type ParentCommand, type PipelineMessage, type PipelineRunOptions } from './pipeline-run.js';

const send = (m: PipelineMessage): Promise<void> => new Promise((resolve) => {
  if (!process.send) {
    process.stdout.write(JSON.stringify(m) + '\n');
    resolve();
    return;
  }
  process.send(m, () => resolve());
});

/** IPC messages from the parent as an async iterable; ends when the parent disconnects. */
async function* parentCommands(): AsyncGenerator<ParentCommand> {
  const queue: ParentCommand[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  process.on('message', (m: ParentCommand) => { queue.push(m); wake?.(); });
  process.on('disconnect', () => { ended = true; wake?.(); });
  for (;;) {
    while (queue.length) yield queue.shift()!;
    if (ended) return;
    await new Promise<void>((resolve) => { wake = resolve; });
    wake = undefined;
  }
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as PipelineRunOptions;
  try {
    const figures = await runPipelineBench(options, (m) => void send(m), parentCommands());
    await send({ type: 'result', figures });
    process.exit(0);
  } catch (err) {
    await send({ type: 'error', message: errorMessage(err) });
    process.exit(1);
  }
}

void main();
