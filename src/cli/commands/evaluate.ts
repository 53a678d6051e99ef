import type { CommandModule } from 'yargs';

/** `edgecam evaluate <model-dir> <dataset>`: accuracy, per-class precision/recall/F1, confusion, worst mistakes. */
export const command: CommandModule = {
  command: 'evaluate <model-dir> <dataset>',
  describe: 'Measure a model folder on a folder of class folders (through ONNX Runtime, exactly as the daemon runs it)',
  builder: (y) => y
    .positional('model-dir', { type: 'string', demandOption: true, describe: 'model folder (model.onnx + manifest.json)' })
    .positional('dataset', { type: 'string', demandOption: true, describe: 'folder of class folders named like the model labels (or a dataset with train/ and val/: val/ is used)' })
    .options({
      json: { type: 'boolean', default: false, describe: 'print {"accuracy","n","perClass","confusion","labels",…} as JSON' },
      mistakes: { type: 'number', default: 10, describe: 'how many confidently wrong files to list' },
      providers: { type: 'string', default: 'cpu', describe: 'ONNX Runtime execution providers, in order (e.g. cuda,cpu)' },
    }),
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const [{ createLogger }, { preprocessImage }, { evaluateModel, evaluationJson }, { formatReport }] = await Promise.all([
      import('../../logger.js'), import('../../preprocess/image.js'), import('../../learn/evaluate.js'), import('../../learn/metrics.js'),
    ]);
    const logger = createLogger({ pretty: false, destination: process.stderr, level: process.env.EDGECAM_LOG_LEVEL ?? 'warn' });
    const result = await evaluateModel({ logger, preprocess: preprocessImage }, {
      modelDir: a.modelDir as string, dataset: a.dataset as string, mistakes: a.mistakes as number,
      providers: String(a.providers).split(',').map((p) => p.trim()).filter(Boolean) as ('cpu' | 'cuda' | 'tensorrt')[],
    });
    if (a.json) {
      process.stdout.write(`${JSON.stringify(evaluationJson(result))}\n`);
      return;
    }
    process.stdout.write(`model ${result.model.name} ${result.model.version} (${result.model.dir}) on ${result.provider}\n`);
    if (result.skipped.length) process.stdout.write(`skipped ${result.skipped.length} unreadable image(s): ${result.skipped.map((s) => s.path).join(', ')}\n`);
    process.stdout.write(`${formatReport(result.report, result.mistakes)}\n`);
  },
};
