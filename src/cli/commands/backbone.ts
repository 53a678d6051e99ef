import type { Argv, CommandModule } from 'yargs';

export const TTA_SCALES_HELP = 'test-time views: also run the network at these square sizes and average (e.g. 256,320: the largest becomes the input size; ≈ 3.3× the compute of 224, more accurate features)';
export const TTA_MIRROR_HELP = 'test-time views: also run the left-right mirror of each image and average (2× the compute)';

/** --tta-scales / --tta-mirror → the views to bake into the graph (undefined: none). */
export async function ttaViewsArg(scales: string | undefined, mirror: boolean | undefined) {
  const { parseIntList } = await import('../../learn/models.js');
  if (!scales && !mirror) return undefined;
  return { ...(scales ? { scales: parseIntList(scales, '--tta-scales') } : {}), ...(mirror ? { mirror: true } : {}) };
}

interface PrepareArgs {
  file: string;
  out: string;
  embedding?: string;
  labels?: string;
  preset: string;
  name?: string;
  version: string;
  force: boolean;
  ttaScales?: string;
  ttaMirror: boolean;
}

/** `edgecam backbone prepare`: an ImageNet classifier becomes a backbone folder with logits + embedding outputs. */
const prepare: CommandModule<object, PrepareArgs> = {
  command: 'prepare <file>',
  describe: 'Turn an ImageNet classifier (.onnx) into a backbone folder that also outputs a pooled embedding',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'The .onnx ImageNet classifier, e.g. mobilenetv2-12-int8.onnx' })
    .option('out', { type: 'string', demandOption: true, describe: 'Backbone folder to create' })
    .option('embedding', { type: 'string', describe: 'Tensor to expose (default: the one feeding the classifier)' })
    .option('labels', { type: 'string', describe: 'Class names: file (one per line, ImageNet synset format understood) or a,b,c' })
    .option('preset', { type: 'string', default: 'imagenet-backbone', choices: ['keras', 'keras-mobilenet', 'torchvision', 'teachable-machine', 'imagenet-backbone'], describe: 'Preprocessing the classifier was trained with' })
    .option('name', { type: 'string', describe: 'Model name (default: file name)' })
    .option('tta-scales', { type: 'string', describe: TTA_SCALES_HELP })
    .option('tta-mirror', { type: 'boolean', default: false, describe: TTA_MIRROR_HELP })
    .version(false) // our --version is the model's, not edgecam's
    .option('version', { type: 'string', default: '1', describe: 'Model version' })
    .option('force', { type: 'boolean', default: false, describe: 'Replace --out if it exists' }) as unknown as Argv<PrepareArgs>,
  handler: async (argv) => {
    const { readFile } = await import('node:fs/promises');
    const { basename } = await import('node:path');
    const { prepareBackbone } = await import('../../onnx/backbone.js');
    const { readLabelsArg } = await import('../../onnx/wrap.js');
    const { writeModelFolder } = await import('../../models/folder.js');
    const { ModelError } = await import('../../errors.js');
    const bytes = new Uint8Array(await readFile(argv.file).catch((err: Error) => {
      throw new ModelError('ONNX_NOT_FOUND', `cannot read ${argv.file}: ${err.message}`);
    }));
    const prepared = await prepareBackbone(bytes, {
      embedding: argv.embedding,
      labels: argv.labels ? await readLabelsArg(argv.labels) : undefined,
      preset: argv.preset,
      name: argv.name ?? basename(argv.file).replace(/\.onnx$/i, ''),
      version: argv.version,
      created: new Date().toISOString(),
      source: basename(argv.file),
      views: await ttaViewsArg(argv.ttaScales, argv.ttaMirror),
    });
    const folder = await writeModelFolder(argv.out, { modelBytes: prepared.modelBytes, manifest: prepared.manifest, overwrite: argv.force });
    const e = prepared.embedding;
    process.stdout.write(`wrote ${folder.dir}: embedding "${e.output}" (${e.size} values) from tensor ${e.tensor}${e.quantization ? ' (dequantized)' : ''}; `
      + `class output "${folder.manifest.output.name}" with ${folder.manifest.labels.length} labels. Check it with \`edgecam model inspect ${argv.out}\`\n`);
  },
};

export const command: CommandModule = {
  command: 'backbone <command>',
  describe: 'Prepare pretrained backbones for transfer learning',
  builder: (y: Argv) => y.command(prepare).demandCommand(1, 'Name a backbone subcommand; `edgecam backbone --help` lists them.'),
  handler: () => {},
};
