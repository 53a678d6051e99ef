import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { configKeys, type ConfigKey } from './keys.js';
import { configSchema, type Config } from './schema.js';

/** The flags `edgecam run` accepts without any file, and the key each one sets. */
export const FLAG_KEYS = {
  source: 'camera.source',
  fps: 'camera.fps',
  model: 'model.dir',
  mqttUrl: 'mqtt.url',
  baseTopic: 'mqtt.baseTopic',
  cameraId: 'mqtt.cameraId',
  httpPort: 'http.port',
  logLevel: 'log.level',
} as const;

export type ConfigFlags = Partial<Record<keyof typeof FLAG_KEYS, string | number>>;

export const DEFAULT_CONFIG_FILE = 'edgecam.yaml';
/** Environment variables that are not keys but are understood anyway. */
const EXTRA_ENV = new Set(['EDGECAM_CONFIG']);

export interface LoadConfigOptions {
  /** Path given with --config (or EDGECAM_CONFIG); missing file is an error. Unset: edgecam.yaml if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: ConfigFlags;
  /** Injected for tests; defaults to fs.readFile as UTF-8. Rejects with ENOENT for a missing file. */
  readText?: (path: string) => Promise<string>;
}

export interface LoadedConfig {
  config: Config;
  /** The file actually read, if any. */
  file?: string;
  /** Where each explicitly set key came from: `file`, `env EDGECAM_…` or `flag --…`. */
  origins: Record<string, string>;
  /** Problems that do not stop the daemon (unknown EDGECAM_ variables). */
  warnings: string[];
}

type Raw = Record<string, unknown>;

function setPath(target: Raw, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null || Array.isArray(node[p])) node[p] = {};
    node = node[p] as Raw;
  }
  node[parts[parts.length - 1]] = value;
}

/** Dotted paths of every leaf present in a raw (file) object, to remember where they came from. */
function leafPaths(value: unknown, prefix: string[] = []): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return prefix.length ? [prefix.join('.')] : [];
  return Object.entries(value as Raw).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Turn an environment string into the key's type; leave it a string when it does not parse so zod names the problem. */
function parseEnvValue(key: ConfigKey, text: string, issues: string[]): unknown {
  const t = text.trim();
  switch (key.kind) {
    case 'number': return t !== '' && Number.isFinite(Number(t)) ? Number(t) : text;
    case 'boolean': return TRUE.has(t.toLowerCase()) ? true : FALSE.has(t.toLowerCase()) ? false : text;
    case 'list': return t.split(',').map((s) => s.trim()).filter(Boolean);
    case 'map':
      try {
        return JSON.parse(t) as unknown;
      } catch {
        issues.push(`${key.path} (from ${key.env}): expected a JSON object like {"cat":0.8}, got ${JSON.stringify(text)}`);
        return undefined;
      }
    default: return text;
  }
}

async function readConfigFile(options: LoadConfigOptions, issues: string[]): Promise<{ raw: Raw; file?: string }> {
  const explicit = options.file ?? options.env?.EDGECAM_CONFIG;
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  const read = options.readText ?? ((p: string) => readFile(p, 'utf8'));
  let text: string;
  try {
    text = await read(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && explicit === undefined) return { raw: {} };
    issues.push(`config file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the --config path`);
    return { raw: {} };
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    for (const e of doc.errors) issues.push(`config file ${file}: YAML error: ${e.message.split('\n')[0]}`);
    return { raw: {}, file };
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || raw === undefined) return { raw: {}, file };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push(`config file ${file}: the top level must be a mapping of sections (camera:, model:, mqtt:, …)`);
    return { raw: {}, file };
  }
  return { raw: raw as Raw, file };
}

function originOf(path: (string | number | symbol)[], origins: Record<string, string>): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const o = origins[path.slice(0, n).map(String).join('.')];
    if (o) return o;
  }
  return undefined;
}

/**
 * Build the configuration: schema defaults < YAML file < EDGECAM_* environment < flags.
 * Every problem from every layer is collected and thrown at once as one ConfigError.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const issues: string[] = [];
  const warnings: string[] = [];
  const { raw, file } = await readConfigFile(options, issues);
  const origins: Record<string, string> = {};
  for (const p of leafPaths(raw)) origins[p] = `file ${file}`;

  const keys = configKeys();
  const byEnv = new Map(keys.map((k) => [k.env, k]));
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!name.startsWith('EDGECAM_') || value === undefined || EXTRA_ENV.has(name)) continue;
    const key = byEnv.get(name);
    if (!key) {
      warnings.push(`ignored environment variable ${name}: no such key (see \`edgecam config keys\`)`);
      continue;
    }
    const parsed = parseEnvValue(key, value, issues);
    if (parsed !== undefined) {
      setPath(raw, key.path, parsed);
      origins[key.path] = `env ${name}`;
    }
  }

  for (const [flag, path] of Object.entries(FLAG_KEYS)) {
    const value = options.flags?.[flag as keyof typeof FLAG_KEYS];
    if (value === undefined) continue;
    setPath(raw, path, value);
    origins[path] = `flag --${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = issue.path.length ? issue.path.map(String).join('.') : '(root)';
      const origin = originOf(issue.path, origins);
      issues.push(`${where}${origin ? ` (from ${origin})` : ''}: ${issue.message}`);
    }
  }
  if (issues.length || !parsed.success) throw new ConfigError(issues);
  return { config: parsed.data, ...(file ? { file } : {}), origins, warnings };
}
