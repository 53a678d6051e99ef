import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ModelError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadModelFolder, writeModelFolder, MANIFEST_FILE, MODEL_FILE, LABELS_FILE, type ModelFolder, type WriteModelFolderOptions } from './folder.js';
import type { Manifest } from './manifest.js';
import { fsyncDir } from '../durable-fs.js';
import { isTemporaryName, readPointer, writePointer } from './store/pointers.js';

/**
 * The versioned model store (issue 5 item 5):
 *
 *   <root>/versions/<version>/   one complete model folder per version (model.onnx, manifest.json, labels.txt, …)
 *   <root>/versions/<version>/store-status.json   accepted | rejected | installed, with the gate's metrics
 *   <root>/active   -> versions/<v>   what the daemon serves (its default model folder is models/active)
 *   <root>/previous -> versions/<v>   what `rollback` goes back to
 *
 * Every change is write-then-rename (folders by writeModelFolder, pointers by pointers.ts), so a kill -9 or a
 * power cut at any point leaves each pointer naming a complete version. Order matters too: a version folder is
 * complete before anything points at it, `previous` is moved before `active`, and prune never touches either.
 */

export const STATUS_FILE = 'store-status.json';
export const VERSION_STATUSES = ['installed', 'accepted', 'rejected'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

export interface VersionStatusFile {
  status: VersionStatus;
  /** Why: "gate passed", "gate failed: 0.91 < 0.95", "installed from https://…", "forced". */
  reason?: string;
  /** What the evaluation gate measured (candidate vs current accuracy on held-out frames). */
  gate?: Record<string, unknown>;
  at: string;
}

export interface StoreEntry {
  version: string;
  dir: string;
  active: boolean;
  previous: boolean;
  status: VersionStatus;
  reason?: string;
  gate?: Record<string, unknown>;
  /** undefined when the folder does not load (see `error`). */
  manifest?: Manifest;
  error?: string;
}

export interface StoreDeps {
  logger: Logger;
  /** Called between the steps of a change; crash tests kill the process there. Production passes nothing. */
  checkpoint?: (step: string) => Promise<void>;
  now?: () => Date;
}

export interface VerifyReport {
  ok: boolean;
  active?: string;
  previous?: string;
  versions: { version: string; ok: boolean; error?: string }[];
  problems: string[];
  /** Left-overs of interrupted writes (harmless; `model prune` removes them). */
  leftovers: string[];
}

const VERSION_NAME = /^[A-Za-z0-9._+-]{1,64}$/;

export class ModelStore {
  readonly root: string;
  readonly versionsDir: string;

  constructor(private readonly deps: StoreDeps, root: string) {
    this.root = resolve(root);
    this.versionsDir = join(this.root, 'versions');
  }

  /** The folder the daemon serves: <root>/active. */
  get activeDir(): string {
    return join(this.root, 'active');
  }

  versionDir(version: string): string {
    if (!VERSION_NAME.test(version) || version === '.' || version === '..') {
      throw new ModelError('STORE_BAD_VERSION', `"${version}" is not a version name (letters, digits, . _ + - only); see \`edgecam model list\``);
    }
    return join(this.versionsDir, version);
  }

  async active(): Promise<string | undefined> {
    return readPointer(this.root, 'active');
  }

  async previous(): Promise<string | undefined> {
    return readPointer(this.root, 'previous');
  }

  /** Version names on disk (not temporaries), oldest first by manifest creation time. */
  async versions(): Promise<string[]> {
    const names = (await readdir(this.versionsDir).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && VERSION_NAME.test(n));
    const created = await Promise.all(names.map(async (n) => {
      const text = await readFile(join(this.versionsDir, n, MANIFEST_FILE), 'utf8').catch(() => '');
      try { return String((JSON.parse(text) as { created?: string }).created ?? ''); } catch { return ''; }
    }));
    return names.map((n, i) => ({ n, c: created[i]! })).sort((a, b) => a.c.localeCompare(b.c) || a.n.localeCompare(b.n)).map((e) => e.n);
  }

  async has(version: string): Promise<boolean> {
    return (await stat(join(this.versionDir(version), MANIFEST_FILE)).catch(() => undefined)) !== undefined;
  }

  /** Load (and fully validate) one version. */
  async load(version: string): Promise<ModelFolder> {
    if (!(await this.has(version))) throw new ModelError('STORE_NO_VERSION', `version "${version}" is not in the store ${this.root}; \`edgecam model list\` shows the versions`);
    return loadModelFolder(this.versionDir(version));
  }

  async list(): Promise<StoreEntry[]> {
    const [active, previous, versions] = await Promise.all([this.active(), this.previous(), this.versions()]);
    return Promise.all(versions.map(async (version): Promise<StoreEntry> => {
      const dir = this.versionDir(version);
      const status = await this.readStatus(version);
      const base = { version, dir, active: version === active, previous: version === previous, ...status };
      try {
        return { ...base, manifest: (await loadModelFolder(dir)).manifest };
      } catch (err) {
        return { ...base, error: errorMessage(err) };
      }
    }));
  }

  /**
   * Write a new version (atomically) and record its status. The version name is the manifest's; adding the same
   * bytes twice is a no-op, a different model under an existing name is refused.
   */
  async add(opts: Omit<WriteModelFolderOptions, 'overwrite'>, status: Omit<VersionStatusFile, 'at'>): Promise<ModelFolder> {
    const version = String(opts.manifest.version);
    const dir = this.versionDir(version);
    if (await this.has(version)) {
      const existing = await loadModelFolder(dir).catch(() => undefined);
      const { sha256Hex } = await import('./sha256.js');
      if (existing && existing.manifest.sha256 === sha256Hex(opts.modelBytes)) return existing;
      throw new ModelError('STORE_VERSION_EXISTS', `version "${version}" is already in the store with a different model; give the new one another version (manifest.version) or remove the old one with \`edgecam model prune\``);
    }
    await mkdir(this.versionsDir, { recursive: true });
    await this.checkpoint('add:before-write');
    const folder = await writeModelFolder(dir, { ...opts, extraFiles: { ...opts.extraFiles, [STATUS_FILE]: statusText(status, this.now()) } });
    await this.checkpoint('add:written');
    this.deps.logger.info({ version, status: status.status }, 'model version added to the store');
    return folder;
  }

  /** Copy a model folder (validated first) into the store, with its extra files (README, head.json, metrics). */
  async addFolder(srcDir: string, status: Omit<VersionStatusFile, 'at'>): Promise<ModelFolder> {
    const src = await loadModelFolder(srcDir);
    const extraFiles: Record<string, Uint8Array> = {};
    for (const e of await readdir(src.dir, { withFileTypes: true })) {
      if (!e.isFile() || e.name.startsWith('.') || [MODEL_FILE, MANIFEST_FILE, LABELS_FILE, STATUS_FILE].includes(e.name)) continue;
      extraFiles[e.name] = await readFile(join(src.dir, e.name));
    }
    return this.add({ modelBytes: src.modelBytes, manifest: src.manifest, extraFiles }, status);
  }

  async setStatus(version: string, status: Omit<VersionStatusFile, 'at'>): Promise<void> {
    const path = join(this.versionDir(version), STATUS_FILE);
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, statusText(status, this.now()));
    await rename(tmp, path);
  }

  /**
   * Serve `version`: validated first, then `previous` := the current active, then `active` := version.
   * A crash between the two renames leaves active unchanged (and previous equal to it): still a valid store.
   */
  async activate(version: string): Promise<{ active: string; previous?: string }> {
    await this.load(version);
    const current = await this.active();
    if (current === version) return { active: version, ...(await this.previous().then((p) => (p ? { previous: p } : {}))) };
    if (current && (await this.has(current))) {
      await writePointer(this.root, 'previous', current, () => this.checkpoint('activate:previous-temp'));
    }
    await this.checkpoint('activate:between');
    await writePointer(this.root, 'active', version, () => this.checkpoint('activate:active-temp'));
    await this.checkpoint('activate:done');
    this.deps.logger.info({ active: version, previous: current }, 'model version activated');
    return { active: version, ...(current ? { previous: current } : {}) };
  }

  /** Serve `previous` again; the version rolled back from becomes `previous` (so rollback twice is a toggle). */
  async rollback(): Promise<{ active: string; previous?: string }> {
    const [current, previous] = await Promise.all([this.active(), this.previous()]);
    if (!previous || previous === current) {
      throw new ModelError('STORE_NO_PREVIOUS', `there is no previous version to roll back to${current ? ` (active is ${current})` : ''}; pick one with \`edgecam model activate <version>\` (see \`edgecam model list\`)`);
    }
    await this.load(previous);
    // Active first: it is what matters if we die half-way; previous is only bookkeeping.
    await writePointer(this.root, 'active', previous, () => this.checkpoint('rollback:active-temp'));
    await this.checkpoint('rollback:between');
    if (current && (await this.has(current))) await writePointer(this.root, 'previous', current);
    this.deps.logger.warn({ active: previous, rolledBackFrom: current }, 'model rolled back');
    return { active: previous, ...(current ? { previous: current } : {}) };
  }

  async verify(): Promise<VerifyReport> {
    const [active, previous, names, top] = await Promise.all([this.active(), this.previous(), this.versions(),
      readdir(this.root).catch(() => [] as string[])]);
    const versions = await Promise.all(names.map(async (version) => {
      try {
        await loadModelFolder(this.versionDir(version));
        return { version, ok: true };
      } catch (err) {
        return { version, ok: false, error: errorMessage(err) };
      }
    }));
    const problems: string[] = versions.filter((v) => !v.ok).map((v) => `version ${v.version}: ${v.error}`);
    for (const [name, target] of [['active', active], ['previous', previous]] as const) {
      const raw = top.includes(name);
      if (raw && !target) problems.push(`${name} is not a link to versions/<version>; re-point it with \`edgecam model activate <version>\``);
      if (target && !versions.some((v) => v.version === target && v.ok)) problems.push(`${name} points to version ${target}, which is missing or broken`);
    }
    const inVersions = await readdir(this.versionsDir).catch(() => [] as string[]);
    const leftovers = [...top.filter(isTemporaryName), ...inVersions.filter((n) => n.startsWith('.')).map((n) => `versions/${n}`)];
    return { ok: problems.length === 0, ...(active ? { active } : {}), ...(previous ? { previous } : {}), versions, problems, leftovers };
  }

  /**
   * Remove left-overs of interrupted writes, and versions beyond the newest `keep` (never active or previous).
   * A folder is renamed to a dot-name before deletion so a crash mid-delete never leaves half a version.
   */
  async prune(options: { keep: number; dryRun?: boolean }): Promise<{ removed: string[]; leftovers: string[] }> {
    const [active, previous, names] = await Promise.all([this.active(), this.previous(), this.versions()]);
    const protectedSet = new Set([active, previous].filter(Boolean));
    const keepNewest = new Set(names.slice(Math.max(0, names.length - options.keep)));
    const removed = names.filter((n) => !protectedSet.has(n) && !keepNewest.has(n));
    const report = await this.verify();
    if (options.dryRun) return { removed, leftovers: report.leftovers };
    for (const name of removed) {
      const doomed = join(this.versionsDir, `.${name}.old-${randomBytes(3).toString('hex')}`);
      await rename(this.versionDir(name), doomed);
      await rm(doomed, { recursive: true, force: true });
    }
    for (const left of report.leftovers) await rm(join(this.root, left), { recursive: true, force: true });
    await fsyncDir(this.versionsDir);
    if (removed.length) this.deps.logger.info({ removed }, 'old model versions removed');
    return { removed, leftovers: report.leftovers };
  }

  private async readStatus(version: string): Promise<Omit<VersionStatusFile, 'at'>> {
    const text = await readFile(join(this.versionDir(version), STATUS_FILE), 'utf8').catch(() => '');
    try {
      const s = JSON.parse(text) as VersionStatusFile;
      if ((VERSION_STATUSES as readonly string[]).includes(s.status)) return { status: s.status, ...(s.reason ? { reason: s.reason } : {}), ...(s.gate ? { gate: s.gate } : {}) };
    } catch {
      // no or unreadable status: a folder put there by hand
    }
    return { status: 'installed' };
  }

  private async checkpoint(step: string): Promise<void> {
    await this.deps.checkpoint?.(step);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

function statusText(s: Omit<VersionStatusFile, 'at'>, at: Date): string {
  return `${JSON.stringify({ ...s, at: at.toISOString() }, null, 2)}\n`;
}
