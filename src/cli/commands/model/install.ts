import type { Argv, CommandModule } from 'yargs';
import { withStoreOption } from '../../../models/store/cli.js';

type Args = {
  models: string; source: string; sha256?: string; signature?: string; pubkey?: string; data?: string;
  healthUrl?: string; watch?: number; timeout: number; activate: boolean; smokeImage?: string; config?: string; json: boolean;
};

/** `edgecam model install <url|file|folder>`: the safe way to put a model on a device (scripts/update-model.sh wraps it). */
export const command: CommandModule<object, Args> = {
  command: 'install <source>',
  describe: 'Install a model update (URL, .tar.gz or folder): verify, test-run, activate, watch the daemon, roll back on failure',
  builder: (y: Argv) => withStoreOption(y)
    .positional('source', { type: 'string', demandOption: true, describe: 'https://…/update.tar.gz, a .tar(.gz) file, or a model folder' })
    .option('sha256', { type: 'string', describe: 'Expected sha256 of the update file' })
    .option('signature', { type: 'string', describe: 'ed25519 signature file (from `edgecam model sign`)' })
    .option('pubkey', { type: 'string', describe: 'Public key to check the signature with [default: update.publicKey]' })
    .option('data', { type: 'string', describe: 'Collection folder to take a smoke-test frame from [default: collect.dir]' })
    .option('smoke-image', { type: 'string', describe: 'Image to test-run the model on' })
    .option('health-url', { type: 'string', describe: 'The daemon\'s /healthz [default: from http.host/http.port]' })
    .option('watch', { type: 'number', describe: 'Seconds to watch the daemon after activation (0: do not) [default: update.watchSeconds]' })
    .option('timeout', { type: 'number', default: 30, describe: 'Abort a download that stalls this many seconds (run again to resume)' })
    .option('activate', { type: 'boolean', default: true, describe: '--no-activate: only store the new version' })
    .option('config', { type: 'string', describe: 'Config file [default: edgecam.yaml if present]' })
    .option('json', { type: 'boolean', default: false }) as unknown as Argv<Args>,
  handler: async (argv) => {
    const [{ installModel }, { loadConfig }, { createLogger }] = await Promise.all([import('../../../models/install.js'), import('../../../config/load.js'), import('../../../logger.js')]);
    const { config } = await loadConfig({ ...(argv.config ? { file: argv.config } : {}), env: process.env, flags: {} });
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    const healthUrl = argv.healthUrl ?? (config.http.enabled ? `http://${host}:${config.http.port}/healthz` : undefined);
    const pubkey = argv.pubkey ?? config.update.publicKey;
    const result = await installModel({ logger: createLogger({ level: process.env.EDGECAM_LOG_LEVEL ?? 'warn' }) }, {
      source: argv.source, models: argv.models, stallTimeoutMs: argv.timeout * 1000, watchSeconds: argv.watch ?? config.update.watchSeconds, activate: argv.activate,
      data: argv.data ?? config.collect.dir,
      ...(argv.sha256 ? { sha256: argv.sha256 } : {}), ...(argv.signature ? { signature: argv.signature } : {}), ...(pubkey ? { publicKey: pubkey } : {}),
      ...(healthUrl ? { healthUrl } : {}), ...(argv.smokeImage ? { smokeImage: argv.smokeImage } : {}),
    });
    if (argv.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const watched = result.watched === 'healthy' ? ', the daemon serves it healthily' : result.watched === 'no-daemon' ? ' (no daemon answered; not watched)' : '';
      process.stdout.write(`installed ${result.version}${result.activated ? ` and activated${result.previous ? ` (rollback returns to ${result.previous})` : ''}${watched}` : ' (not activated)'}\n`);
    }
  },
};
