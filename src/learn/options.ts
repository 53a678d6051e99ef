import type { Logger } from '../logger.js';
import type { AugmentOptions } from './augment.js';
import type { DistillOptions } from './distill.js';
import type { PreprocessFn } from './dataset-load.js';
import type { ProgressSink } from './progress.js';
import type { LrSchedule } from './train.js';
import type { ClassifierDeps } from '../inference/engine.js';
import type { ExecutionProvider } from '../inference/types.js';

/** Everything `edgecam train` decides, after parsing flags (defaults live in the CLI command). */
export interface TrainOptions {
  dataset: string;
  out: string;
  arch: 'cnn' | 'transfer';
  epochs: number;
  batchSize: number;
  lr: number;
  /** Learning-rate schedule over the epochs (train.ts learningRateAt); default constant. */
  lrSchedule?: LrSchedule;
  valSplit: number;
  seed: number;
  /** Early-stopping patience in epochs (0 = off). */
  patience: number;
  augment?: AugmentOptions;
  classWeights: boolean;
  /** L2 weight decay on kernels. */
  weightDecay: number;
  /** Decay of the weights' moving average (learn/weight-average.ts); 0/undefined = off. */
  ema?: number;
  /** Replace an existing output folder. */
  force: boolean;
  name?: string;
  version?: string;
  /** The command line, recorded in provenance and metrics.json. */
  command?: string;
  cnn: {
    inputSize: number;
    filters: number[];
    convsPerBlock: number;
    dense: number[];
    dropout: number;
    batchNorm: boolean;
    globalPool?: boolean;
    resize: 'squash' | 'cover' | 'contain';
    /** Start from the weights of this model folder (an earlier `edgecam train --arch cnn`) instead of random ones (learn/init-weights.ts). */
    init?: string;
    /** Learn from a teacher model's probabilities on augmented views (learn/distill.ts). */
    distill?: DistillOptions;
  };
  transfer: {
    /** Backbone model folder (from `edgecam backbone prepare`). */
    backbone?: string;
    hidden: number;
    dropout: number;
    /** Augmented copies per training image whose embeddings are added to the training set (0 = none). */
    augmentCopies: number;
    /** Embedding cache folder. */
    cacheDir: string;
    providers?: ExecutionProvider[];
  };
}

export interface TrainDeps {
  logger: Logger;
  /** The shared image preprocessing (src/preprocess/image.ts preprocessImage). */
  preprocess: PreprocessFn;
  progress: ProgressSink;
  /** Name of the tfjs backend in use, for metrics.json. */
  backend: string;
  /** onnxruntime for backbone embeddings (transfer); defaults to the real one. */
  classifierDeps?: Partial<ClassifierDeps>;
  now?: () => Date;
  /** True once the user asked to stop (Ctrl-C): training ends after the current epoch and is still saved. */
  shouldStop?: () => boolean;
}

/** A version string from a date: 2024-05-01T10:20:30Z → 20240501-102030. */
export function versionFromDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
