import type { Argv, CommandModule } from 'yargs';
import { withDataOption } from '../../collect/cli.js';

type Args = { data: string; json: boolean };

/** `edgecam collect`: what the collection folder holds (the daemon fills it when collect.enabled is on). */
export const command: CommandModule<object, Args> = {
  command: 'collect',
  describe: 'Show what the collection folder holds: unlabelled frames, labelled frames per class, disk use',
  builder: (y: Argv) => withDataOption(y).option('json', { type: 'boolean', default: false, describe: 'Print JSON' }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const { listFrames } = await import('../../collect/frames.js');
    const frames = await listFrames(argv.data);
    const classes: Record<string, number> = {};
    for (const f of frames) if (f.label) classes[f.label] = (classes[f.label] ?? 0) + 1;
    const summary = { dir: argv.data, unlabelled: frames.filter((f) => !f.label).length, labelled: classes, megabytes: +(frames.reduce((s, f) => s + f.bytes, 0) / 1048576).toFixed(2) };
    if (argv.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else process.stdout.write(`${summary.dir}: ${summary.unlabelled} unlabelled, labelled ${Object.entries(classes).map(([c, n]) => `${c} ${n}`).join(', ') || 'none'}; ${summary.megabytes} MB\n`);
  },
};
