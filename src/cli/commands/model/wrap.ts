import type { Argv, CommandModule } from 'yargs';

interface WrapArgs {
  file: string;
  labels: string;
  out: string;
  preset?: string;
  mean?: string;
  std?: string;
  scale?: string;
  resize?: string;
  'resize-shorter-to'?: number;
  size?: string;
  input?: string;
  output?: string;
  bgr: boolean;
  name?: string;
  version: string;
  force: boolean;
  json: boolean;
}

const numbers = (s: string | undefined) => (s === undefined ? undefined : s.split(',').map((x) => Number(x.trim())));

/** `edgecam model wrap`: a model folder for a classifier trained elsewhere (Keras via tf2onnx, PyTorch). */
export const command: CommandModule<object, WrapArgs> = {
  command: 'wrap <file>',
  describe: 'Make a model folder (manifest + labels) for an ONNX classifier trained elsewhere',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The .onnx classifier' })
    .option('labels', { type: 'string', demandOption: true, describe: 'Labels file (one per line) or a list: cat,dog' })
    .option('out', { type: 'string', demandOption: true, describe: 'Model folder to create' })
    .option('preset', { type: 'string', choices: ['keras', 'keras-mobilenet', 'torchvision', 'teachable-machine', 'imagenet-backbone'], describe: 'Preprocessing of the tool chain that trained it (default: keras for NHWC, torchvision for NCHW)' })
    .option('mean', { type: 'string', describe: 'Per-channel mean, "a,b,c" or one number (value = (x·scale − mean) / std)' })
    .option('std', { type: 'string', describe: 'Per-channel std, "a,b,c" or one number' })
    .option('scale', { type: 'string', describe: 'Pixel (0..255) multiplier, e.g. 1/255 or 1/127.5' })
    .option('resize', { type: 'string', choices: ['cover', 'contain', 'squash', 'shorter-side-then-center-crop'], describe: 'How images are fitted to the input size' })
    .option('resize-shorter-to', { type: 'number', describe: 'For shorter-side-then-center-crop: shorter side before the crop' })
    .option('size', { type: 'string', describe: 'HxW when the graph input size is dynamic, e.g. 224x224' })
    .option('input', { type: 'string', describe: 'Image input name, when the graph has several inputs' })
    .option('output', { type: 'string', describe: 'Class-score output name (default: the first output)' })
    .option('bgr', { type: 'boolean', default: false, describe: 'The model expects BGR channel order (Caffe / OpenCV trained)' })
    .option('name', { type: 'string', describe: 'Model name (default: file name)' })
    .version(false) // our --version is the model's, not edgecam's
    .option('version', { type: 'string', default: '1', describe: 'Model version' })
    .option('force', { type: 'boolean', default: false, describe: 'Replace --out if it exists' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the manifest as JSON' }) as unknown as Argv<WrapArgs>,
  handler: async (argv) => {
    const { readFile } = await import('node:fs/promises');
    const { basename } = await import('node:path');
    const { parseOnnx } = await import('../../../onnx/proto.js');
    const { wrapManifest, readLabelsArg, parseScale } = await import('../../../onnx/wrap.js');
    const { writeModelFolder } = await import('../../../models/folder.js');
    const { probeWithOnnxRuntime } = await import('../../../onnx/probe.js');
    const { ModelError } = await import('../../../errors.js');
    const bytes = new Uint8Array(await readFile(argv.file).catch((err: Error) => {
      throw new ModelError('ONNX_NOT_FOUND', `cannot read ${argv.file}: ${err.message}`);
    }));
    const model = parseOnnx(bytes, argv.file);
    const size = argv.size ? (/^(\d+)x(\d+)$/.exec(argv.size)?.slice(1).map(Number) as [number, number] | undefined) : undefined;
    if (argv.size && !size) throw new ModelError('WRAP_FLAG', `--size must look like 224x224, got "${argv.size}"`);
    const manifest = wrapManifest(model, {
      labels: await readLabelsArg(argv.labels),
      name: argv.name ?? basename(argv.file).replace(/\.onnx$/i, ''),
      version: argv.version,
      created: new Date().toISOString(),
      preset: argv.preset, mean: numbers(argv.mean), std: numbers(argv.std),
      scale: argv.scale === undefined ? undefined : parseScale(argv.scale),
      resize: argv.resize, resizeShorterTo: argv['resize-shorter-to'], size,
      inputName: argv.input, outputName: argv.output, colorOrder: argv.bgr ? 'BGR' : 'RGB',
      provenance: { source: basename(argv.file), command: `edgecam ${process.argv.slice(2).join(' ')}` },
    });
    await probeWithOnnxRuntime(bytes, { name: manifest.input.name, dims: [1, ...manifest.input.shape.slice(1)] });
    const folder = await writeModelFolder(argv.out, { modelBytes: bytes, manifest, overwrite: argv.force });
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(folder.manifest, null, 2)}\n`);
      return;
    }
    const m = folder.manifest;
    process.stdout.write(`wrote ${folder.dir}: ${m.labels.length} labels, input ${m.input.name} ${m.input.layout} ${m.preprocess.size.join('x')}, output ${m.output.name} (${m.output.kind}); check it with \`edgecam model inspect ${argv.out}\`\n`);
    if (!argv.preset && argv.scale === undefined && argv.mean === undefined) {
      process.stderr.write(`note: no --preset given; assumed ${m.input.layout === 'NHWC' ? 'keras (x/255, squash)' : 'torchvision (ImageNet mean/std, resize 256 + centre crop)'}. Pass --preset if the model was trained differently.\n`);
    }
  },
};
