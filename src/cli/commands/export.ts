import type { Argv, CommandModule } from 'yargs';

/** `edgecam export <tfjs-model-dir> --out <model-dir>`: tfjs layers model → ONNX model folder, parity-checked. */
interface ExportArgs {
  model: string;
  out: string;
  labels?: string;
  preset?: string;
  layout: 'NHWC' | 'NCHW';
  name?: string;
  modelVersion?: string;
  size?: string;
  force: boolean;
}

function parseSize(spec: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/i.exec(spec.trim());
  if (!m) return [Number.NaN, Number.NaN];
  const h = Number(m[1]);
  return [h, m[2] ? Number(m[2]) : h];
}

export const command: CommandModule<object, ExportArgs> = {
  command: 'export <model>',
  describe: 'Convert a tfjs layers model folder (model.json + weights) into a model folder (model.onnx + manifest), checking ONNX Runtime against tfjs',
  builder: (y: Argv) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'Folder holding model.json and its weight files' })
    .option('out', { type: 'string', demandOption: true, describe: 'Model folder to create' })
    .option('labels', { type: 'string', describe: 'Labels file (one per line) or a list: cat,dog (default: labels.txt or metadata.json next to model.json)' })
    .option('preset', { type: 'string', describe: 'Preprocessing preset: keras, keras-mobilenet, torchvision, teachable-machine (default: raw 0-255 pixels when the model starts with Rescaling, else keras)' })
    .option('layout', { choices: ['NHWC', 'NCHW'] as const, default: 'NHWC' as const, describe: 'Input layout of the ONNX model' })
    .option('name', { type: 'string', describe: 'Model name for the manifest (default: the tfjs model name)' })
    .option('model-version', { type: 'string', describe: 'Model version for the manifest (default: a UTC timestamp)' })
    .option('size', { type: 'string', describe: 'Input size HxW for models that accept any size, e.g. 224x224' })
    .option('force', { type: 'boolean', default: false, describe: 'Replace the output folder if it exists' }) as unknown as Argv<ExportArgs>,
  handler: async (argv) => {
    // tfjs' "install tfjs-node" banner says nothing useful to someone exporting a model.
    (await import('@tensorflow/tfjs')).env().set('PROD', true);
    const { ModelError } = await import('../../errors.js');
    const { presetPreprocess } = await import('../../models/presets.js');
    const { exportTfjsFolder, readLabelsOption } = await import('../../onnx/tfjs-export/to-folder.js');
    const { PARITY_TOLERANCE } = await import('../../onnx/tfjs-export.js');
    const size = argv.size === undefined ? undefined : parseSize(argv.size);
    if (size && !(size[0] > 0 && size[1] > 0)) throw new ModelError('EXPORT_BAD_SIZE', `--size ${argv.size} is not HxW (e.g. 224x224)`);
    let rawPixels = false;
    const { folder, export: r } = await exportTfjsFolder({
      modelDir: argv.model,
      outDir: argv.out,
      ...(argv.labels ? { labels: await readLabelsOption(argv.labels) } : {}),
      preprocess: (s) => {
        if (argv.preset) return presetPreprocess(argv.preset, s);
        if (!rawPixels) return presetPreprocess('keras', s);
        // The model rescales by itself: feed 0..255 pixels unchanged.
        return { resize: 'squash', size: s, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
      },
      onModel: (info) => { rawPixels = info.startsWithRescaling; },
      layout: argv.layout,
      ...(argv.name ? { name: argv.name } : {}),
      ...(argv.modelVersion ? { version: argv.modelVersion } : {}),
      ...(size ? { size } : {}),
      provenance: { command: `edgecam export ${process.argv.slice(3).join(' ')}`.trim() },
      overwrite: argv.force,
    });
    const m = folder.manifest;
    const p = m.preprocess;
    process.stdout.write(`parity: max |ONNX Runtime − tfjs| = ${r.parityMaxAbsDiff.toExponential(2)} on random inputs (limit ${PARITY_TOLERANCE.toExponential(0)})\n`);
    process.stdout.write(`wrote ${folder.dir}: ${m.labels.length} labels (${m.labels.join(', ')}), input ${m.input.name} [${m.input.shape.join(',')}] ${m.input.layout}, `
      + `preprocess ${p.resize} ${p.size.join('x')} scale ${p.scale.toPrecision(4)} mean [${p.mean.join(',')}] std [${p.std.join(',')}], output ${m.output.name} (${m.output.kind})\n`);
    if (!argv.preset && !rawPixels) process.stdout.write('note: no --preset given, assumed keras (x/255); pass --preset if the model was trained with other input scaling\n');
  },
};
