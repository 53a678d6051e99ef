import type { Argv, CommandModule } from 'yargs';
import { withDataOption } from '../../collect/cli.js';

type ListArgs = { data: string; unlabelled: boolean; json: boolean; class?: string };
type SetArgs = { data: string; args: string[] };
type ImportArgs = { data: string; folder: string };

const list: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'List collected frames with what the model said about them',
  builder: (y: Argv) => withDataOption(y)
    .option('unlabelled', { type: 'boolean', default: false, describe: 'Only frames nobody labelled yet' })
    .option('class', { type: 'string', describe: 'Only frames labelled with this class' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON lines' }) as unknown as Argv<ListArgs>,
  handler: async (argv) => {
    const { listFramesWithSidecars } = await import('../../collect/labels.js');
    const frames = (await listFramesWithSidecars(argv.data, { unlabelled: argv.unlabelled })).filter((f) => !argv.class || f.label === argv.class);
    for (const f of frames) {
      const s = f.sidecarData;
      if (argv.json) {
        process.stdout.write(`${JSON.stringify({ id: f.id, label: f.label ?? null, image: f.image, reason: s?.reason, predicted: s?.predicted ?? null, time: s?.time })}\n`);
      } else {
        const p = s?.predicted ? `${s.predicted.label} ${(s.predicted.confidence * 100).toFixed(0)}%` : '-';
        process.stdout.write(`${f.id}  ${(f.label ?? '(unlabelled)').padEnd(14)} model said ${p.padEnd(16)} ${s?.reason ?? ''}  ${f.image}\n`);
      }
    }
    if (!argv.json) process.stdout.write(`${frames.length} frame(s)\n`);
  },
};

const set: CommandModule<object, SetArgs> = {
  command: 'set <args..>',
  describe: 'Label frames: edgecam label set <frame-id…> <class>',
  builder: (y: Argv) => withDataOption(y).positional('args', { type: 'string', array: true, describe: 'Frame ids, then the class' }) as unknown as Argv<SetArgs>,
  handler: async (argv) => {
    const [{ setLabels }, { EdgecamError }] = await Promise.all([import('../../collect/labels.js'), import('../../errors.js')]);
    const args = argv.args.map(String);
    if (args.length < 2) throw new EdgecamError('CLI_BAD_OPTION', 'give one or more frame ids and then the class, e.g. `edgecam label set 20240501-102030-123-000042 cat`');
    const className = args.pop()!;
    const r = await setLabels(argv.data, args, className);
    process.stdout.write(`labelled ${r.labelled.length} frame(s) as ${className}\n`);
    if (r.missing.length) throw new EdgecamError('LABEL_UNKNOWN_FRAME', `no such frame(s): ${r.missing.join(', ')} (evicted, or a typo?); \`edgecam label list\` shows the frames`);
  },
};

const importCmd: CommandModule<object, ImportArgs> = {
  command: 'import <folder>',
  describe: 'Copy a folder of class folders (cat/, dog/, …) in as labelled frames',
  builder: (y: Argv) => withDataOption(y).positional('folder', { type: 'string', demandOption: true }) as unknown as Argv<ImportArgs>,
  handler: async (argv) => {
    const { importClassFolders } = await import('../../collect/labels.js');
    const r = await importClassFolders(argv.data, argv.folder);
    process.stdout.write(`imported ${Object.entries(r.imported).map(([c, n]) => `${n} ${c}`).join(', ')}${r.skipped.length ? `; skipped ${r.skipped.length}: ${r.skipped.slice(0, 3).map((s) => `${s.path} (${s.reason})`).join(', ')}` : ''}\n`);
  },
};

/** `edgecam label list | set | import` (issue 5 item 2); the daemon answers the MQTT `label` request the same way. */
export const command: CommandModule = {
  command: 'label <command>',
  describe: 'List, label and import collected frames for fine-tuning',
  builder: (y: Argv) => y.command(list).command(set).command(importCmd).demandCommand(1, 'Name a label subcommand: list, set or import.'),
  handler: () => {},
};
