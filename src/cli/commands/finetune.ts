import type { Argv, CommandModule } from 'yargs';
import { withDataOption } from '../../collect/cli.js';
import { FINETUNE_DEFAULTS as D } from '../../learn/finetune-options.js';
import { withStoreOption } from '../../models/store/cli.js';

type Args = { data: string; models: string; holdout: number; margin: number; force: boolean; epochs: number; lr: number; hidden: number; dropout: number; weightDecay: number; mirror: boolean; seed: number; activate: boolean; json: boolean };

/**
 * `edgecam finetune`: a new head on the active model's backbone from the labelled frames, gated on held-back
 * frames, stored as a new version and activated when it is at least as good. A running daemon (model.watch on)
 * swaps to it between frames; the daemon's MQTT `finetune` request does the same inside the daemon.
 */
export const command: CommandModule<object, Args> = {
  command: 'finetune',
  describe: 'Fine-tune the active model on labelled frames; activate the result only if it beats the current model on held-back frames',
  builder: (y: Argv) => withStoreOption(withDataOption(y))
    .option('holdout', { type: 'number', default: D.holdoutShare, describe: 'Share of labelled frames held back for the gate (fixed per frame)' })
    .option('margin', { type: 'number', default: D.margin, describe: 'The candidate needs holdout accuracy ≥ current + margin' })
    .option('force', { type: 'boolean', default: false, describe: 'Activate even if the gate fails' })
    .option('epochs', { type: 'number', default: D.epochs, describe: 'Training epochs of the head' })
    .option('lr', { type: 'number', default: D.lr, describe: 'Adam learning rate' })
    .option('hidden', { type: 'number', default: D.hidden, describe: 'Units of a hidden Dense layer in the head (0: a linear head)' })
    .option('dropout', { type: 'number', default: D.dropout, describe: 'Dropout before the head\'s last layer' })
    .option('weight-decay', { type: 'number', default: D.weightDecay, describe: 'L2 penalty on the head\'s weights (0: none)' })
    .option('mirror', { type: 'boolean', default: D.mirror, describe: 'Also train on each training frame mirrored left-right (--no-mirror: plain frames only)' })
    .option('seed', { type: 'number', default: D.seed })
    .option('activate', { type: 'boolean', default: true, describe: 'Activate an accepted candidate (--no-activate: only store it)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const [{ finetuneAndActivate, startFinetuneProcess }, { finetuneOptions }, { createLogger }, { EdgecamError }] = await Promise.all([
      import('../../learn/finetune-process.js'), import('../../learn/finetune-options.js'), import('../../logger.js'), import('../../errors.js'),
    ]);
    const logger = createLogger({ level: 'warn' });
    const options = finetuneOptions({ data: argv.data, models: argv.models, holdoutShare: argv.holdout, margin: argv.margin, force: argv.force, epochs: argv.epochs, lr: argv.lr, hidden: argv.hidden, dropout: argv.dropout, weightDecay: argv.weightDecay, mirror: argv.mirror, seed: argv.seed });
    const onProgress = (p: { state: string; epoch?: number; epochs?: number; accuracy?: number; done?: number; total?: number; message?: string }): void => {
      if (argv.json) return;
      const detail = p.epoch ? ` epoch ${p.epoch}/${p.epochs}` : p.total ? ` ${p.done}/${p.total}` : '';
      process.stderr.write(`fine-tune: ${p.state}${detail}${p.accuracy !== undefined ? ` accuracy ${(p.accuracy * 100).toFixed(1)}%` : ''}${p.message ? ` — ${p.message}` : ''}\n`);
    };
    const outcome = argv.activate
      ? await finetuneAndActivate({ logger }, options, { onProgress, logLevel: 'warn' })
      : { ...(await startFinetuneProcess({ logger }, options, { onProgress, logLevel: 'warn' }).result), activated: false };
    if (argv.json) process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
    else process.stdout.write(`${outcome.version}: ${outcome.reason}${outcome.activated ? ' — now active' : ''}\n`);
    if (!outcome.accepted) throw new EdgecamError('FINETUNE_REJECTED', `the candidate ${outcome.version} was kept as rejected (${outcome.reason}); the current model keeps serving. Label more frames, or pass --force.`);
  },
};
