import type { CommandModule } from 'yargs';
import { EdgecamError } from '../../errors.js';

interface BenchArgs {
  model: string;
  frames?: string;
  seconds: number;
  json: boolean;
  soak?: number;
  'mqtt-url'?: string;
  threads: number;
  inference: 'worker' | 'main';
  'startup-runs': number;
}

/** `edgecam bench`: how fast the pipeline runs next to what its stages allow, on this machine (see bench/README.md). */
export const command: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'Measure preprocessing, inference, the whole pipeline to MQTT PUBACK, memory, CPU and startup on this machine',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'Model folder (manifest.json + model.onnx)' })
    .option('frames', { type: 'string', describe: 'Folder of images to replay (default: synthesized 640×480 JPEGs)' })
    .option('seconds', { type: 'number', default: 10, describe: 'Timed seconds per stage' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the figures as one JSON line on stdout (progress goes to stderr)' })
    .option('soak', { type: 'number', describe: 'Run the pipeline this many minutes, sampling RSS and fps every 10 s, and print RSS growth' })
    .option('mqtt-url', { type: 'string', describe: 'Broker to publish to (default: a private mosquitto on a free loopback port)' })
    .option('threads', { type: 'number', default: 1, describe: 'ONNX Runtime intra-op threads for the pipeline (inference is measured with 1 and 2 either way)' })
    .option('inference', { choices: ['worker', 'main'] as const, default: 'worker' as const, describe: 'Run ONNX Runtime on a worker thread (the daemon default, model.inferenceThread) or on the event-loop thread (to compare)' })
    .option('startup-runs', { type: 'number', default: 3, describe: 'How many starts of `edgecam run` to time (median reported)' })
    .example('$0 bench --model /tmp/mobilenetv2', 'all stages on synthesized frames, 10 s each')
    .example('$0 bench --model models/active --frames samples --json', 'figures as JSON on the last line')
    .example('$0 bench --model /tmp/mobilenetv2 --soak 10', 'a 10-minute soak: RSS and fps every 10 s'),
  handler: async (argv) => {
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new EdgecamError('BENCH_OPTIONS', what);
    };
    check(Number.isFinite(argv.seconds) && argv.seconds >= 1 && argv.seconds <= 3600, `--seconds must be between 1 and 3600, got ${argv.seconds}.`);
    check(argv.soak === undefined || (Number.isFinite(argv.soak) && argv.soak > 0 && argv.soak <= 7 * 24 * 60), `--soak takes minutes (more than 0), got ${argv.soak}.`);
    check(Number.isInteger(argv.threads) && argv.threads >= 1 && argv.threads <= 64, `--threads must be an integer from 1 to 64, got ${argv.threads}.`);
    check(Number.isInteger(argv['startup-runs']) && argv['startup-runs'] >= 1 && argv['startup-runs'] <= 20, `--startup-runs must be 1-20, got ${argv['startup-runs']}.`);
    const [{ resolve }, { createLogger }, { runBench }] = await Promise.all([import('node:path'), import('../../logger.js'), import('../../bench/run.js')]);
    const out = argv.json ? process.stderr : process.stdout;
    const report = await runBench({
      logger: createLogger({ level: 'warn', destination: process.stderr, pretty: false }),
      print: (line) => out.write(line + '\n'),
    }, {
      modelDir: resolve(argv.model), ...(argv.frames ? { framesDir: resolve(argv.frames) } : {}), seconds: argv.seconds,
      ...(argv['mqtt-url'] ? { mqttUrl: argv['mqtt-url'] } : {}), ...(argv.soak ? { soakMinutes: argv.soak } : {}),
      intraOpThreads: argv.threads, inference: argv.inference, startupRuns: argv['startup-runs'],
    });
    if (argv.json) process.stdout.write(JSON.stringify(report.figures) + '\n');
    // ONNX Runtime's native threads can keep the loop alive after the sessions were released.
    process.exit(0);
  },
};
