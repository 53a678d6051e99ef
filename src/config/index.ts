export { configSchema, SOURCE_KINDS, PROVIDERS, LOG_LEVELS, SECRET_KEYS, type Config, type ConfigInput } from './schema.js';
export { loadConfig, FLAG_KEYS, DEFAULT_CONFIG_FILE, type ConfigFlags, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { configKeys, configKeysMarkdown, envName, type ConfigKey } from './keys.js';
export { redactConfig, redactUrl, REDACTED } from './redact.js';
export { configFlagOptions, flagsFromArgv } from './flags.js';
export { decisionOptionsOf } from './decision.js';
