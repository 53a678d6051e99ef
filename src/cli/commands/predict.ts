import type { Argv, CommandModule } from 'yargs';
import type { ExecutionProvider } from '../../inference/types.js';

interface PredictArgs {
  model: string;
  images: string[];
  top: number;
  json: boolean;
  providers?: ExecutionProvider[];
  threads: number;
}

const PROVIDERS: readonly ExecutionProvider[] = ['tensorrt', 'cuda', 'cpu'];

/** `--providers cuda,cpu` or `--providers cuda cpu`; order matters (first that loads wins). */
function parseProviders(values: unknown): ExecutionProvider[] | undefined {
  if (values === undefined) return undefined;
  const list = (Array.isArray(values) ? values : [values]).flatMap((v) => String(v).split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
  for (const p of list) {
    if (!PROVIDERS.includes(p as ExecutionProvider)) throw new Error(`unknown execution provider "${p}"; choose from ${PROVIDERS.join(', ')}`);
  }
  return list as ExecutionProvider[];
}

const pct = (p: number) => `${(p * 100).toFixed(1)}%`;

/**
 * `edgecam predict <model-dir> <image|folder>...`: label + confidence per image (the tutorials' `who(img_file)`).
 * Exit code: 0 when at least one image was classified, 1 when none could be (every file failed, or no images).
 * Per-file errors are printed to stderr and counted; they never stop the run.
 */
export const command: CommandModule<object, PredictArgs> = {
  command: 'predict <model> <images..>',
  describe: 'Classify image files or folders with a model folder',
  builder: (y: Argv) => y
    .positional('model', { type: 'string', describe: 'Model folder (model.onnx + manifest.json)' })
    .positional('images', { type: 'string', array: true, describe: 'Image files and/or folders (walked recursively)' })
    .option('top', { type: 'number', default: 3, describe: 'How many ranked labels to show per image' })
    .option('json', { type: 'boolean', default: false, describe: 'Print a JSON array [{file, label, confidence, top: [{label, score}]}] on stdout' })
    .option('providers', { type: 'array', string: true, coerce: parseProviders, describe: 'Execution providers to try in order, e.g. cpu or cuda,cpu (default cuda,cpu)' })
    .option('threads', { type: 'number', default: 1, describe: 'ONNX Runtime intra-op threads' })
    .check((a) => {
      if (!Number.isInteger(a.top) || (a.top as number) < 1) throw new Error('--top must be a whole number ≥ 1');
      if (!Number.isInteger(a.threads) || (a.threads as number) < 1) throw new Error('--threads must be a whole number ≥ 1');
      return true;
    })
    .example('$0 predict models/pets photo.jpg', 'One image: label and confidence')
    .example('$0 predict models/pets ~/pictures --json > out.json', 'A whole folder as JSON') as unknown as Argv<PredictArgs>,
  handler: async (argv) => {
    const { loadModelFolder } = await import('../../models/folder.js');
    const { createClassifier } = await import('../../inference/engine.js');
    const { collectImageFiles, predictFiles, summarize, isPredictionError } = await import('../../inference/predict-files.js');
    const { createLogger } = await import('../../logger.js');
    const { EdgecamError } = await import('../../errors.js');
    const cliProgress = (await import('cli-progress')).default;

    const logger = createLogger({ level: process.env.EDGECAM_LOG_LEVEL ?? 'warn', pretty: false, destination: process.stderr });
    const { files, walkedFolders } = await collectImageFiles(argv.images);
    if (files.length === 0) {
      throw new EdgecamError('PREDICT_NO_IMAGES', `no image files found in ${argv.images.join(', ')} (looked for .jpg .jpeg .png .webp .gif .tif .tiff .avif)`);
    }
    const folder = await loadModelFolder(argv.model);
    const classifier = await createClassifier({ logger }, { folder, providers: argv.providers, intraOpThreads: argv.threads });

    // The bar goes to stderr and only on a terminal (cli-progress prints nothing otherwise).
    const bar = walkedFolders && process.stderr.isTTY
      ? new cliProgress.SingleBar({ stream: process.stderr, format: 'classifying [{bar}] {value}/{total} {file}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(files.length, 0, { file: '' });
    // Lines printed while the bar is drawn on the same terminal would be overwritten: clear it, print, redraw.
    const print = (stream: NodeJS.WriteStream, text: string) => {
      if (bar && stream.isTTY) process.stderr.write('\r\x1b[K');
      stream.write(text);
    };
    try {
      const predictions = await predictFiles(classifier, files, {
        top: argv.top,
        onResult: (p, i) => {
          if (isPredictionError(p)) print(process.stderr, `edgecam: cannot classify ${p.file}: ${p.error}${p.code ? ` [${p.code}]` : ''}\n`);
          else if (!argv.json) {
            const rest = p.top.slice(1).map((t) => `${t.label} ${pct(t.score)}`).join(', ');
            print(process.stdout, `${p.file}: ${p.label} (${pct(p.confidence)})${rest ? `  then ${rest}` : ''}\n`);
          }
          bar?.update(i + 1, { file: p.file });
        },
      });
      bar?.stop();
      const summary = summarize(predictions);
      const summaryText = [
        `${summary.total} image${summary.total === 1 ? '' : 's'}: ${summary.classified} classified, ${summary.failed} failed (model ${folder.manifest.name} ${folder.manifest.version} on ${classifier.provider})`,
        ...summary.perLabel.map(({ label, count }) => `  ${String(count).padStart(5)}  ${label}`),
      ].join('\n') + '\n';
      if (argv.json) {
        process.stdout.write(JSON.stringify(predictions, null, 2) + '\n');
        process.stderr.write(summaryText);
      } else {
        process.stdout.write(`\n${summaryText}`);
      }
      if (summary.classified === 0) {
        throw new EdgecamError('PREDICT_ALL_FAILED', `${summary.total === 1 ? 'the image could not be classified' : `none of the ${summary.total} images could be classified`} (see the errors above)`);
      }
    } finally {
      bar?.stop();
      await classifier.dispose();
    }
  },
};
