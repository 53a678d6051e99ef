import type { Argv, CommandModule } from 'yargs';

type Args = { folders: string[]; out: string; name?: string; version?: string; mirror: boolean; force: boolean };

/** `edgecam model ensemble a/ b/ c/ --out m/`: one model folder whose model.onnx averages several classifiers. */
export const command: CommandModule<object, Args> = {
  command: 'ensemble <folders..>',
  describe: 'Average two or more classifiers trained for the same labels and input (e.g. seeds of one recipe) into one model folder',
  builder: (y: Argv) => y
    .positional('folders', { type: 'string', array: true, demandOption: true, describe: 'Model folders (model.onnx + manifest.json) to average' })
    .option('out', { type: 'string', demandOption: true, describe: 'Model folder to create' })
    .option('mirror', { type: 'boolean', default: false, describe: 'Also average each member over the left-right mirror of the image (twice the compute)' })
    .option('name', { type: 'string', describe: 'Model name [default: the first member\'s]' })
    .version(false) // our --version is the model's, not edgecam's
    .option('version', { type: 'string', describe: 'Model version [default: the first member\'s + "-ensembleN"]' })
    .option('force', { type: 'boolean', default: false, describe: 'Replace --out if it exists' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const [{ loadModelFolder }, { ensembleFolders }, { probeWithOnnxRuntime }] = await Promise.all([
      import('../../../models/folder.js'), import('../../../models/ensemble.js'), import('../../../onnx/probe.js'),
    ]);
    const members = await Promise.all(argv.folders.map((dir) => loadModelFolder(dir)));
    const folder = await ensembleFolders(members, {
      out: argv.out, created: new Date().toISOString(), mirror: argv.mirror, force: argv.force,
      command: `edgecam ${process.argv.slice(2).join(' ')}`,
      ...(argv.name ? { name: argv.name } : {}), ...(argv.version ? { version: argv.version } : {}),
    }, probeWithOnnxRuntime);
    const m = folder.manifest;
    process.stdout.write(`wrote ${folder.dir}: ${m.name} ${m.version}, the mean of ${members.length} networks${argv.mirror ? ' and their mirror images' : ''} (${(folder.modelBytes.length / 1e6).toFixed(1)} MB); measure it with \`edgecam evaluate ${argv.out} <dataset>\`\n`);
  },
};
