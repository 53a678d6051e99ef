import type { CommandModule } from 'yargs';

/** `edgecam config check|print|keys`: validate, show (secrets redacted) and document the configuration. */
export const command: CommandModule = {
  command: 'config <action>',
  describe: 'Check or print the effective configuration (file < EDGECAM_* env < flags), or list every key',
  builder: async (y) => {
    const { configFlagOptions } = await import('../../config/flags.js');
    return y.positional('action', { choices: ['check', 'print', 'keys'] as const, describe: 'check: validate and report every problem; print: effective config as YAML, secrets redacted; keys: every key with its default and env variable' })
      .options(configFlagOptions);
  },
  handler: async (argv) => {
    const { loadConfig, redactConfig, configKeysMarkdown, flagsFromArgv } = await import('../../config/index.js');
    if (argv.action === 'keys') {
      process.stdout.write(configKeysMarkdown());
      return;
    }
    const { file, flags } = flagsFromArgv(argv as Record<string, unknown>);
    const loaded = await loadConfig({ ...(file ? { file } : {}), env: process.env, flags });
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
    if (argv.action === 'check') {
      process.stdout.write(`configuration OK${loaded.file ? ` (${loaded.file})` : ' (no file; defaults, environment and flags)'}\n`);
      return;
    }
    const { stringify } = await import('yaml');
    process.stdout.write(stringify(redactConfig(loaded.config)));
  },
};
