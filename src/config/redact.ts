import { SECRET_KEYS, type Config } from './schema.js';

export const REDACTED = '[redacted]';

/** A URL with its password (if any) replaced, for logs and `config print`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = REDACTED;
    return u.toString().replace(encodeURIComponent(REDACTED), REDACTED);
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, `//$1:${REDACTED}@`);
  }
}

/** A deep copy of the configuration safe to print or publish: secrets and URL passwords replaced. */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config) as Config;
  for (const path of SECRET_KEYS) {
    const parts = path.split('.');
    let node = copy as unknown as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) node = (node?.[p] ?? {}) as Record<string, unknown>;
    const last = parts[parts.length - 1];
    if (node[last] !== undefined && node[last] !== '') node[last] = REDACTED;
  }
  if (copy.mqtt.url) copy.mqtt.url = redactUrl(copy.mqtt.url);
  if (copy.camera.source.startsWith('ffmpeg:') || copy.camera.source.startsWith('snapshot:')) {
    const [kind, ...rest] = copy.camera.source.split(':');
    copy.camera.source = `${kind}:${redactUrl(rest.join(':'))}`;
  }
  return copy;
}
