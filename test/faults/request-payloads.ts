import { rng } from './bad-images.js';

/**
 * 10,000 hostile or broken MQTT requests, generated from a seed: random bytes, wrong JSON types, huge strings and
 * deep nesting, unknown or malformed command names, and path traversal in labels and model folders.
 */

export const KNOWN_COMMANDS = ['status', 'capture', 'reload-model', 'set-threshold'] as const;
/** Registered by the learning loop when collect.enabled is on. */
export const LEARNING_COMMANDS = ['label', 'finetune'] as const;
/** The router's rule for a command it answers; anything else is ignored (it could not be answered safely). */
export const ANSWERABLE = /^[A-Za-z0-9_-]{1,64}$/;

export interface GeneratedRequest {
  command: string;
  payload: Buffer;
  category: string;
}

/** Labels and folders that try to leave the data folder; `escapeDir` is an absolute path outside it. */
export function traversalStrings(escapeDir: string): string[] {
  return [
    '../../escaped', '../../../../../../../../escaped', `${escapeDir}/abs`, `../../..${escapeDir}/rel`, '..', '.', '....//....//escaped',
    'a/../../../escaped', '..\\..\\escaped', '%2e%2e%2fescaped', '\u0000../escaped', ' ../escaped', '‥/escaped', '/etc/passwd', '~/.ssh/escaped',
    '.hidden', 'CON', 'cat/../../dog', `file://${escapeDir}/url`, '.' + '/..'.repeat(30),
  ];
}

const WRONG_TYPES = [
  '[]', '1', '"status"', 'null', 'true', '{"label": 5}', '{"label": ["a"]}', '{"label": {"$gt": ""}}', '{"label": "", "threshold": 0.5}',
  '{"label": "cat", "threshold": "high"}', '{"label": "cat", "threshold": 1e309}', '{"label": "cat", "threshold": -0.1}', '{"minConfidence": 2}',
  '{"minDwellMs": -1}', '{"minDwellMs": 1.5}', '{"enter": 0.2, "exit": 0.9}', '{"dir": 42}', '{"dir": ""}', '{"dir": null}', '{"transaction": {"a": 1}}',
  '{"transaction": [1]}', '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"polluted": true}}}', '{"unknown": 1}', '{"label": "cat"}',
  '{"threshold": 0.5}', '{,}', '{"a":1,,}', '\ufeff{}', '{"label": "\ud800"}',
];

export function generateRequests(count: number, escapeDir: string, options: { learning?: boolean; seed?: number } = {}): GeneratedRequest[] {
  const rand = rng(options.seed ?? 42);
  const commands: readonly string[] = options.learning ? [...KNOWN_COMMANDS, ...LEARNING_COMMANDS] : KNOWN_COMMANDS;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const traversal = traversalStrings(escapeDir);
  const out: GeneratedRequest[] = [];
  for (let i = 0; i < count; i++) {
    const command = pick(commands);
    const k = i % 20;
    if (k < 6) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(rand() * 2048) }, () => Math.floor(rand() * 256)));
      out.push({ command, payload: bytes, category: 'random bytes' });
    } else if (k < 10) {
      out.push({ command, payload: Buffer.from(pick(WRONG_TYPES)), category: 'wrong JSON types' });
    } else if (k < 12) {
      const sizes = [70_000, 50_000, 65_536, 200_000];
      const size = pick(sizes);
      const variants = [
        () => JSON.stringify({ label: 'x'.repeat(size) }),
        () => JSON.stringify({ transaction: 'y'.repeat(size) }),
        // 30,000 levels of nesting in 60 KB (under the size limit): JSON.parse must not take the process down.
        () => '['.repeat(30_000) + ']'.repeat(30_000),
        () => JSON.stringify({ dir: '../'.repeat(Math.floor(size / 3)) }),
      ];
      out.push({ command, payload: Buffer.from(pick(variants)()), category: 'huge strings and nesting' });
    } else if (k < 14) {
      const names = ['explode', 'STATUS', 'status_', 'rm-rf', 'shutdown', 'a'.repeat(64), 'a'.repeat(65), 'stätus', 'status/extra', 'status ', '..', '', 'x y', '$SYS', 'ca*ture'];
      out.push({ command: pick(names), payload: Buffer.from(JSON.stringify({ transaction: i })), category: 'unknown or malformed commands' });
    } else if (k < 15 && i % 40 === 14) {
      // Valid captures whose labels try to escape: answered ok, saved inside the data folder under a cleaned name.
      out.push({ command: 'capture', payload: Buffer.from(JSON.stringify({ label: pick(traversal).slice(0, 100), transaction: i })), category: 'path traversal: capture label' });
    } else if (k < 16 && options.learning) {
      // Labelling with class names and frame ids that try to escape the collection folder.
      const body = rand() > 0.5 ? { ids: [pick(traversal).slice(0, 64)], class: 'cat' } : { ids: ['20240101T000000000Z-0'], class: pick(traversal).slice(0, 200) };
      out.push({ command: 'label', payload: Buffer.from(JSON.stringify({ ...body, transaction: i })), category: 'path traversal: label request' });
    } else if (k < 17) {
      out.push({ command: 'reload-model', payload: Buffer.from(JSON.stringify({ dir: pick(traversal), transaction: i })), category: 'path traversal: model folder' });
    } else if (k < 18) {
      out.push({ command: 'set-threshold', payload: Buffer.from(JSON.stringify({ label: pick(traversal).slice(0, 200), threshold: rand() > 0.5 ? rand() : 'x', transaction: i })), category: 'set-threshold with odd labels' });
    } else {
      const bodies = ['', '{}', `{"transaction": ${i}}`, '{"transaction": "t"}', '{"extra": true}'];
      out.push({ command: 'status', payload: Buffer.from(pick(bodies)), category: 'status' });
    }
  }
  return out;
}
