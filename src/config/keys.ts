import type { z } from 'zod';
import { configSchema } from './schema.js';

/** What kind of value a leaf key holds, which decides how an environment string is parsed. */
export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'list' | 'map';

export interface ConfigKey {
  /** Dotted path, e.g. `mqtt.discovery.prefix`. */
  path: string;
  /** EDGECAM_ + path segments in UPPER_SNAKE_CASE, e.g. EDGECAM_MQTT_DISCOVERY_PREFIX. */
  env: string;
  kind: LeafKind;
  /** Default value, undefined when the key is optional without one. */
  defaultValue: unknown;
  description: string;
  /** Allowed values for enums (and the members of list items). */
  choices?: readonly (string | number)[];
}

interface ZodInternals { _zod: { def: Record<string, unknown> & { type: string } }; description?: string }

function defOf(s: unknown): ZodInternals['_zod']['def'] {
  return (s as ZodInternals)._zod.def;
}

/** camelCase → CAMEL_CASE, so `baseTopic` becomes `BASE_TOPIC`. */
export function envSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function envName(path: string[]): string {
  return ['EDGECAM', ...path.map(envSegment)].join('_');
}

/** Peel default/optional/pipe wrappers, remembering the default and the first description found. */
function unwrap(schema: unknown): { core: unknown; defaultValue: unknown; description: string } {
  let s = schema;
  let defaultValue: unknown;
  let description = (s as ZodInternals).description ?? '';
  for (;;) {
    const def = defOf(s);
    if (def.type === 'default' || def.type === 'prefault') {
      if (defaultValue === undefined) defaultValue = typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
      s = def.innerType;
    } else if (def.type === 'optional' || def.type === 'nullable' || def.type === 'readonly') {
      s = def.innerType;
    } else if (def.type === 'pipe') {
      s = def.in;
    } else {
      break;
    }
    description ||= (s as ZodInternals).description ?? '';
  }
  return { core: s, defaultValue, description };
}

function kindOf(core: unknown): { kind: LeafKind; choices?: (string | number)[] } {
  const def = defOf(core);
  switch (def.type) {
    case 'string': return { kind: 'string' };
    case 'number': return { kind: 'number' };
    case 'boolean': return { kind: 'boolean' };
    case 'enum': return { kind: 'enum', choices: Object.values(def.entries as Record<string, string>) };
    case 'union': {
      const values = (def.options as unknown[]).map((o) => defOf(o)).filter((d) => d.type === 'literal').flatMap((d) => d.values as (string | number)[]);
      return values.length && values.every((v) => typeof v === 'number') ? { kind: 'number', choices: values } : { kind: 'enum', choices: values };
    }
    case 'array': {
      const item = kindOf(unwrap(def.element).core);
      return { kind: 'list', choices: item.choices };
    }
    case 'record': return { kind: 'map' };
    default: return { kind: 'string' };
  }
}

function walk(schema: unknown, path: string[], out: ConfigKey[]): void {
  const { core, defaultValue, description } = unwrap(schema);
  const def = defOf(core);
  if (def.type === 'object') {
    for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) walk(child, [...path, key], out);
    return;
  }
  const { kind, choices } = kindOf(core);
  out.push({ path: path.join('.'), env: envName(path), kind, defaultValue, description, ...(choices ? { choices } : {}) });
}

/** Every leaf key of the configuration, in schema order. */
export function configKeys(): ConfigKey[] {
  const out: ConfigKey[] = [];
  walk(configSchema, [], out);
  return out;
}

/** A Markdown table of every key (the source of src/config/README-keys.md; a test keeps them equal). */
export function configKeysMarkdown(): string {
  const cell = (v: unknown): string => (v === undefined ? '(unset)' : `\`${JSON.stringify(v)}\``);
  const lines = [
    '| key | default | environment variable | meaning |',
    '|---|---|---|---|',
    ...configKeys().map((k) => {
      const choices = k.choices ? ` One of: ${k.choices.map((c) => `\`${c}\``).join(', ')}.` : '';
      const format = k.kind === 'list' ? ' Env: comma-separated.' : k.kind === 'map' ? ' Env: JSON object.' : '';
      return `| \`${k.path}\` | ${cell(k.defaultValue)} | \`${k.env}\` | ${k.description.replace(/\|/g, '\\|')}.${choices}${format} |`;
    }),
  ];
  return lines.join('\n') + '\n';
}
