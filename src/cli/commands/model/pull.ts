import type { CommandModule } from 'yargs';
import { TTA_MIRROR_HELP, TTA_SCALES_HELP, ttaViewsArg } from '../backbone.js';

/** `edgecam model pull`: pinned pretrained backbone (download or local file) → prepared backbone or composed model. */
export const command: CommandModule = {
  command: 'pull <name>',
  describe: 'Get a pinned pretrained backbone (checked by sha256), prepare it, and optionally compose it with a trained head',
  builder: (y) => y
    .positional('name', { type: 'string', demandOption: true, choices: ['mobilenetv2'], describe: 'pinned backbone (mobilenetv2 = mobilenetv2-12-int8.onnx from the ONNX Model Zoo)' })
    .options({
      out: { type: 'string', demandOption: true, describe: 'folder to write: the composed model with --head, else the prepared backbone' },
      file: { type: 'string', describe: 'use this local copy instead of downloading (must match the pinned sha256)' },
      head: { type: 'string', describe: 'a head folder from `edgecam train --arch transfer` (holds head.json), e.g. models/pets-mobilenetv2-head' },
      force: { type: 'boolean', default: false, describe: 'replace --out if it exists' },
      resize: { choices: ['shorter-side-then-center-crop', 'squash', 'cover', 'contain'] as const, describe: 'backbone only: override its resize mode (default: the preset\'s centre crop). With --head, the head\'s recorded preprocessing is used' },
      'tta-scales': { type: 'string', describe: `${TTA_SCALES_HELP}. With --head: must match the head's (default: the head's)` },
      'tta-mirror': { type: 'boolean', describe: TTA_MIRROR_HELP },
      timeout: { type: 'number', default: 120, describe: 'seconds per download attempt' },
    })
    .example('$0 model pull mobilenetv2 --head models/pets-mobilenetv2-head --out models/pets-mobilenetv2', 'download MobileNetV2 and build the pets model')
    .example('$0 model pull mobilenetv2 --file ~/Downloads/mobilenetv2-12-int8.onnx --out backbones/mobilenetv2', 'prepare a backbone from a local copy'),
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const [{ createLogger }, { pullModel, PINNED_BACKBONES }] = await Promise.all([import('../../../logger.js'), import('../../../learn/pull.js')]);
    const logger = createLogger({ pretty: false, destination: process.stderr, level: process.env.EDGECAM_LOG_LEVEL ?? 'warn' });
    const name = a.name as string;
    if (!a.file) process.stderr.write(`downloading ${PINNED_BACKBONES[name]?.file} (pinned sha256 ${PINNED_BACKBONES[name]?.sha256.slice(0, 12)}…)\n`);
    const { folder, composed } = await pullModel({ logger }, { name, out: a.out as string, file: a.file as string | undefined, head: a.head as string | undefined, force: a.force as boolean, resize: a.resize as 'squash' | undefined, views: await ttaViewsArg(a.ttaScales as string | undefined, a.ttaMirror as boolean | undefined), timeoutMs: (a.timeout as number) * 1000 });
    process.stdout.write(composed
      ? `wrote ${folder.dir}: ${folder.manifest.name} ${folder.manifest.version}, labels ${folder.manifest.labels.join(', ')} (backbone + head in one model.onnx)\n`
      : `wrote backbone ${folder.dir} (embedding "${folder.manifest.output.embedding?.name}", ${folder.manifest.output.embedding?.size} values); train a head with \`edgecam train <dataset> --arch transfer --backbone ${folder.dir} --out <dir>\`\n`);
  },
};
