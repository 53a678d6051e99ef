import type { Argv, CommandModule } from 'yargs';

/** `edgecam model inspect`: what a model folder or .onnx file holds, and whether its manifest tells the truth. */
export const command: CommandModule<object, { path: string; json: boolean }> = {
  command: 'inspect <path>',
  describe: 'Show inputs, outputs, opset, size, sha256, labels and preprocessing of a model folder or .onnx file',
  builder: (y: Argv) => y
    .positional('path', { type: 'string', describe: 'Model folder or .onnx file' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as unknown as Argv<{ path: string; json: boolean }>,
  handler: async (argv) => {
    const { inspectModel, formatReport } = await import('../../../onnx/inspect.js');
    const { ModelError } = await import('../../../errors.js');
    const report = await inspectModel(argv.path);
    process.stdout.write(argv.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    if (report.problems.length > 0) {
      throw new ModelError('MODEL_FOLDER_INVALID', `${argv.path} has ${report.problems.length} problem(s), listed above`);
    }
  },
};
