import type { Argv, CommandModule } from 'yargs';

/** `edgecam import-tm <dir> --out <model-dir>`: a Teachable Machine tfjs image export → model folder. */
interface ImportTmArgs {
  dir: string;
  out: string;
  name?: string;
  force: boolean;
}

export const command: CommandModule<object, ImportTmArgs> = {
  command: 'import-tm <dir>',
  describe: 'Import a Teachable Machine image model (Tensorflow.js export: model.json, weights.bin, metadata.json) as a model folder',
  builder: (y: Argv) => y
    .positional('dir', { type: 'string', demandOption: true, describe: 'Unzipped Teachable Machine export folder' })
    .option('out', { type: 'string', demandOption: true, describe: 'Model folder to create' })
    .option('name', { type: 'string', describe: 'Model name (default: metadata.json modelName)' })
    .option('force', { type: 'boolean', default: false, describe: 'Replace the output folder if it exists' }) as unknown as Argv<ImportTmArgs>,
  handler: async (argv) => {
    // tfjs' "install tfjs-node" banner says nothing useful to someone importing a model.
    (await import('@tensorflow/tfjs')).env().set('PROD', true);
    const { importTeachableMachine } = await import('../../onnx/tfjs-export/teachable-machine.js');
    const { PARITY_TOLERANCE } = await import('../../onnx/tfjs-export.js');
    process.stdout.write(`converting ${argv.dir} (ONNX Runtime is checked against tfjs on random inputs; with the pure-JS tfjs backend a 224×224 MobileNet takes up to a minute)…\n`);
    const { folder, export: r } = await importTeachableMachine({
      dir: argv.dir, outDir: argv.out, overwrite: argv.force,
      ...(argv.name ? { name: argv.name } : {}),
      command: `edgecam import-tm ${process.argv.slice(3).join(' ')}`.trim(),
    });
    const m = folder.manifest;
    process.stdout.write(`parity: max |ONNX Runtime − tfjs| = ${r.parityMaxAbsDiff.toExponential(2)} on random inputs (limit ${PARITY_TOLERANCE.toExponential(0)})\n`);
    process.stdout.write(`wrote ${folder.dir}: "${m.name}" ${m.labels.length} labels (${m.labels.join(', ')}), input ${m.input.name} [${m.input.shape.join(',')}] ${m.input.layout}, centre square crop ${m.preprocess.size.join('x')}, x/127.5 − 1\n`);
  },
};
