import type { Argv, CommandModule } from 'yargs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where transfer-learning embeddings are cached unless --cache-dir says otherwise. */
export function defaultEmbeddingCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'edgecam', 'embeddings');
}

function builder(y: Argv): Argv {
  return y
    .positional('dataset', { type: 'string', demandOption: true, describe: 'folder of class folders (cat/, dog/, …), or with train/ and val/ folders of them' })
    .options({
      out: { type: 'string', demandOption: true, describe: 'model folder to write (model.onnx, manifest.json, metrics.json, curves.png, confusion.png)' },
      arch: { choices: ['cnn', 'transfer'] as const, default: 'cnn', describe: 'cnn: small self-contained CNN; transfer: a head on a frozen backbone (--backbone)' },
      epochs: { type: 'number', describe: 'maximum epochs [default: cnn 40, transfer 60]' },
      'batch-size': { type: 'number', default: 32 },
      lr: { type: 'number', describe: 'Adam learning rate [default: cnn 0.001, transfer 0.001]' },
      'lr-schedule': { choices: ['constant', 'cosine'] as const, default: 'constant', describe: 'learning rate over the epochs: constant, or cosine decay from --lr to 0 (for long runs, e.g. distillation)' },
      'val-split': { type: 'number', default: 0.2, describe: 'validation fraction (stratified) when the dataset has no val/ folder' },
      seed: { type: 'number', default: 42, describe: 'seed for the split, shuffling, initial weights and augmentation' },
      patience: { type: 'number', default: 8, describe: 'stop after this many epochs without a lower validation loss and restore the best epoch (0 = never stop early)' },
      augment: { type: 'string', describe: 'augment on the fly: bare flag = flip,rotation=15,shift=0.1,zoom=0.15,shear=8,brightness=0.15,contrast=0.15; or a list like "flip,rotation=20"' },
      'weight-decay': { type: 'number', default: 0, describe: 'L2 penalty on layer kernels (e.g. 0.001) against overfitting small datasets' },
      ema: { type: 'number', default: 0, describe: 'keep a moving average of the weights with this decay per step (e.g. 0.998) and validate, pick and write that average: steadier than the last step on long, noisy runs (0 = off)' },
      'class-weights': { type: 'boolean', default: true, describe: 'weight the loss so unbalanced class folders count equally (--no-class-weights to turn off)' },
      'input-size': { type: 'number', default: 64, describe: 'cnn: square input size in pixels' },
      filters: { type: 'string', default: '32,64', describe: 'cnn: filters per conv block (Conv 3×3 → MaxPool 2×2), comma-separated' },
      'convs-per-block': { type: 'number', default: 1, describe: 'cnn: conv layers per block' },
      dense: { type: 'string', default: '128', describe: 'cnn: hidden Dense units, comma-separated ("" for none)' },
      dropout: { type: 'number', describe: 'dropout rate [default: cnn 0.5, transfer 0.2]' },
      'batch-norm': { type: 'boolean', default: false, describe: 'cnn: BatchNormalization after each conv' },
      'global-pool': { type: 'boolean', default: false, describe: 'cnn: global average pooling instead of Flatten after the conv blocks (far fewer weights: less overfitting on small datasets)' },
      resize: { choices: ['squash', 'cover', 'contain'] as const, default: 'squash', describe: 'cnn: how images become square (squash like Keras image_dataset_from_directory, cover = centre crop, contain = pad)' },
      init: { type: 'string', describe: 'cnn: start from the weights of this model folder (made by an earlier `edgecam train --arch cnn` with the same --input-size/--filters/--dense…, e.g. models/pets-cnn) to fine-tune it on your photos' },
      teacher: { type: 'string', describe: 'cnn: distil from this model folder (e.g. the MobileNetV2 pets model): it labels --teacher-views augmented views of each photo and the CNN learns its probabilities' },
      'teacher-views': { type: 'number', default: 8, describe: 'cnn with --teacher: views per photo (the photo + augmented ones, from --augment)' },
      mixup: { type: 'number', default: 0, describe: 'cnn with --teacher: share of augmented views blended with another photo (the teacher labels the blend)' },
      'distill-features': { type: 'number', default: 0, describe: "cnn with --teacher: weight of feature matching, the CNN also learning to predict the teacher's embedding of each view (0 = off; e.g. 0.5)" },
      'distill-weight': { type: 'number', default: 0.7, describe: "cnn with --teacher: weight of the teacher's probabilities in the loss (the rest: the folder label)" },
      backbone: { type: 'string', describe: 'transfer: backbone model folder made by `edgecam backbone prepare` (manifest with an embedding output)' },
      hidden: { type: 'number', default: 0, describe: 'transfer: units of an optional hidden Dense layer in the head' },
      'augment-copies': { type: 'number', default: 0, describe: 'transfer: augmented copies per training image added as extra embeddings (uses --augment settings)' },
      'cache-dir': { type: 'string', describe: 'transfer: embedding cache folder [default: $XDG_CACHE_HOME/edgecam/embeddings or ~/.cache/edgecam/embeddings]' },
      providers: { type: 'string', default: 'cpu', describe: 'transfer: ONNX Runtime execution providers for the backbone, in order (e.g. cuda,cpu)' },
      backend: { choices: ['auto', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto', describe: 'tfjs training backend (auto: tfjs-node if installed, else wasm, else cpu)' },
      threads: { type: 'number', default: 0, describe: 'wasm backend threads (0 = auto: the CPU count, or 1 when the machine is already busy)' },
      name: { type: 'string', describe: 'model name in the manifest [default: the --out folder name]' },
      'model-version': { type: 'string', describe: 'model version in the manifest [default: date-time]' },
      force: { type: 'boolean', default: false, describe: 'replace --out if it exists' },
    })
    .example('$0 train ~/pets --out models/pets-cnn --augment', 'small CNN on pets/{cat,dog,none}')
    .example('$0 train ~/pets --arch transfer --backbone models/mobilenetv2 --out models/pets-head', 'transfer learning on a prepared backbone');
}

export const command: CommandModule = {
  command: 'train <dataset>',
  describe: 'Train an image classifier from folders of images (small CNN or transfer learning) into a model folder',
  builder,
  handler: async (argv) => {
    const a = argv as Record<string, unknown>;
    const [{ createLogger }, { parseAugment }, { parseIntList }, { TrainingError }] = await Promise.all([
      import('../../logger.js'), import('../../learn/augment.js'), import('../../learn/models.js'), import('../../learn/errors.js'),
    ]);
    const logger = createLogger({ pretty: false, destination: process.stderr, level: process.env.EDGECAM_LOG_LEVEL ?? 'warn' });
    const arch = a.arch as 'cnn' | 'transfer';
    if (arch === 'transfer' && !a.backbone) {
      throw new TrainingError('TRAIN_NO_BACKBONE', '--arch transfer needs --backbone <folder>; make one with `edgecam model pull` or `edgecam backbone prepare`.');
    }
    const augment = a.augment === undefined ? undefined : parseAugment(a.augment as string);
    (await import('../../learn/weight-average.js')).checkAverageDecay(a.ema as number);
    const { runTraining } = await import('../../learn/run.js');
    const { initTrainingBackend } = await import('../../learn/backend/index.js');
    const backend = await initTrainingBackend({ logger, prefer: a.backend as 'auto', threads: a.threads as number });
    process.stderr.write(`training backend: ${backend.details}\n`);
    const outcome = await runTraining({ logger, backend: backend.backend }, {
      dataset: a.dataset as string, out: a.out as string, arch,
      epochs: (a.epochs as number | undefined) ?? (arch === 'cnn' ? 40 : 60),
      batchSize: a.batchSize as number, lr: (a.lr as number | undefined) ?? 0.001, lrSchedule: a.lrSchedule as 'constant' | 'cosine',
      valSplit: a.valSplit as number, seed: a.seed as number, patience: a.patience as number,
      augment, classWeights: a.classWeights as boolean, weightDecay: a.weightDecay as number, ema: a.ema as number, force: a.force as boolean,
      name: a.name as string | undefined, version: a.modelVersion as string | undefined,
      command: ['edgecam', ...process.argv.slice(2)].join(' '),
      cnn: {
        inputSize: a.inputSize as number, filters: parseIntList(a.filters as string, '--filters'), convsPerBlock: a.convsPerBlock as number,
        dense: parseIntList(a.dense as string, '--dense', true), dropout: (a.dropout as number | undefined) ?? 0.5,
        batchNorm: a.batchNorm as boolean, globalPool: a.globalPool as boolean, resize: a.resize as 'squash',
        ...(a.init ? { init: a.init as string } : {}),
        ...(a.teacher ? { distill: { teacher: a.teacher as string, views: a.teacherViews as number, weight: a.distillWeight as number, mixup: a.mixup as number, features: a.distillFeatures as number } } : {}),
      },
      transfer: {
        backbone: a.backbone as string | undefined, hidden: a.hidden as number, dropout: (a.dropout as number | undefined) ?? 0.2,
        augmentCopies: a.augmentCopies as number, cacheDir: (a.cacheDir as string | undefined) ?? defaultEmbeddingCacheDir(),
        providers: String(a.providers).split(',').map((p) => p.trim()).filter(Boolean) as ('cpu' | 'cuda' | 'tensorrt')[],
      },
    });
    process.stdout.write(`${outcome.text}\n`);
    // The threaded wasm backend's worker threads keep the event loop alive after training is done;
    // stdout to a pipe or file is synchronous on Linux, so nothing written above is lost.
    process.exit(0);
  },
};
