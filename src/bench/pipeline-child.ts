/**
 * Child process entry of the bench's pipeline stage: `fork(this file, [JSON options])`. Reports samples and the
 * result over the IPC channel, then exits (ONNX Runtime's native threads may otherwise keep the process alive).
 */
import { errorMessage } from '../errors.js';
import { runPipelineBench, type PipelineMessage, type PipelineRunOptions } from './pipeline-run.js';

const send = (m: PipelineMessage): Promise<void> => new Promise((resolve) => {
  if (!process.send) {
    process.stdout.write(JSON.stringify(m) + '\n');
    resolve();
    return;
  }
  process.send(m, () => resolve());
});

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as PipelineRunOptions;
  try {
    const figures = await runPipelineBench(options, (m) => void send(m));
    await send({ type: 'result', figures });
    process.exit(0);
  } catch (err) {
    await send({ type: 'error', message: errorMessage(err) });
    process.exit(1);
  }
}

void main();
