import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EventEmitter } from 'node:events';
import { ModelError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Classifier } from '../inference/types.js';
import type { Clock, Component } from '../types.js';

export interface ModelReloaderDeps {
  logger: Logger;
  clock: Clock;
  /** Loads and validates a model folder into a ready classifier (loadModelFolder + createClassifier in production). */
  loadClassifier: (dir: string) => Promise<Classifier>;
  /** Puts the new classifier in service; resolves with the one it replaced once that is idle (FramePipeline.swapClassifier). */
  swap: (next: Classifier) => Promise<Classifier>;
  watch?: typeof fsWatch;
}

export interface ModelReloaderOptions {
  dir: string;
  /** React to changes of the folder (files rewritten) or of its name (an `active` symlink re-pointed). */
  watch: boolean;
  /** Writers touch several files; wait this long after the last change before reloading. Default 1000 ms. */
  debounceMs?: number;
}

export interface LoadedModel {
  name: string;
  version: string;
  provider: string;
  labels: string[];
  /** The folder the model came from, symlinks resolved. */
  dir: string;
  loadedAt: number;
}

/**
 * Owns "the model in service". reload() loads the new model beside the old one, swaps it in between two
 * frames, and disposes the old one only after its last frame; a model that fails to load or validate
 * leaves the old one serving. Reloads are serialized, so SIGHUP + request + file change cannot interleave.
 */
export class ModelReloader extends EventEmitter<{ swapped: [Classifier, LoadedModel] }> implements Component {
  private classifier: Classifier | undefined;
  private info: LoadedModel | undefined;
  private identity = '';
  private chain: Promise<unknown> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | number | undefined;
  private running = false;
  private readonly log: Logger;

  constructor(
    private readonly deps: ModelReloaderDeps,
    private readonly options: ModelReloaderOptions,
  ) {
    super();
    this.log = deps.logger.child({ component: 'model' });
  }

  get current(): Classifier | undefined {
    return this.classifier;
  }

  get loaded(): LoadedModel | undefined {
    return this.info;
  }

  /** Loads the configured model; a failure here is fatal for the daemon (there is nothing to serve with). */
  async start(): Promise<void> {
    if (this.running) return;
    const dir = resolve(this.options.dir);
    const [classifier, identity] = await Promise.all([this.deps.loadClassifier(dir), this.identityOf(dir)]);
    this.install(classifier, identity);
    this.running = true;
    this.log.info({ model: this.info }, 'model loaded');
    if (this.options.watch) this.startWatching();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopWatching();
    this.deps.clock.clearTimeout(this.debounce);
    await this.chain.catch(() => undefined);
    const classifier = this.classifier;
    this.classifier = undefined;
    await classifier?.dispose().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'disposing the model failed'));
  }

  /**
   * Load `dir` (default: the configured folder) and swap it in. Rejects with the load error, the old model still
   * serving. With `onlyIfChanged`, a folder whose manifest and target are unchanged is not reloaded.
   */
  reload(reason: string, options: { dir?: string; onlyIfChanged?: boolean } = {}): Promise<LoadedModel> {
    const run = this.chain.catch(() => undefined).then(() => this.reloadNow(reason, options));
    this.chain = run;
    return run;
  }

  private async reloadNow(reason: string, options: { dir?: string; onlyIfChanged?: boolean }): Promise<LoadedModel> {
    const old = this.classifier;
    if (!this.running || !old) throw new ModelError('MODEL_NOT_RUNNING', 'The daemon is not serving a model yet (or is stopping); try again once it runs.');
    const dir = resolve(options.dir ?? this.options.dir);
    const identity = await this.identityOf(dir);
    if (options.onlyIfChanged && identity.key === this.identity && this.info) return this.info;
    this.log.info({ dir, reason }, 'loading model beside the current one');
    let next: Classifier;
    try {
      next = await this.deps.loadClassifier(dir);
    } catch (err) {
      this.log.error({ dir, reason, err: errorMessage(err), code: (err as { code?: string }).code }, 'new model failed to load; the current model keeps serving');
      throw err;
    }
    if (!this.running) {
      await next.dispose();
      throw new ModelError('MODEL_NOT_RUNNING', 'The daemon stopped while the new model was loading.');
    }
    const previous = await this.deps.swap(next);
    this.install(next, identity);
    if (options.dir) this.restartWatching();
    await previous.dispose().catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'disposing the old model failed'));
    this.log.info({ model: this.info, reason }, 'model swapped');
    return this.info!;
  }

  private install(classifier: Classifier, identity: { real: string; key: string }): void {
    const m = classifier.manifest;
    this.classifier = classifier;
    this.identity = identity.key;
    this.info = { name: m.name, version: m.version, provider: classifier.provider, labels: [...m.labels], dir: identity.real, loadedAt: this.deps.clock.now() };
    this.emit('swapped', classifier, this.info);
  }

  /** What makes two loads the same model: the folder after symlinks, and the manifest text (which holds the ONNX sha256). */
  private async identityOf(dir: string): Promise<{ real: string; key: string }> {
    const real = await realpath(dir).catch(() => dir);
    const manifest = await readFile(join(real, 'manifest.json'), 'utf8').catch(() => '');
    return { real, key: `${real}\n${manifest}` };
  }

  private startWatching(): void {
    const watch = this.deps.watch ?? fsWatch;
    const dir = resolve(this.options.dir);
    const onChange = (): void => this.scheduleReload();
    const add = (path: string, filter?: (name: string | null) => boolean): void => {
      try {
        const w = watch(path, { persistent: false }, (_event, name) => {
          if (!filter || filter(name === null ? null : String(name))) onChange();
        });
        w.on('error', (err) => this.log.debug({ path, err: errorMessage(err) }, 'model folder watch error'));
        this.watchers.push(w);
      } catch (err) {
        this.log.warn({ path, err: errorMessage(err) }, 'cannot watch for model changes; use SIGHUP or the reload-model request');
      }
    };
    // The folder's own files (inotify follows a symlinked folder to its target)…
    add(dir, (name) => name === null || name === 'manifest.json' || name === 'model.onnx');
    // …and its entry in the parent, which changes when `active` is re-pointed (ln -sfn / rename).
    add(dirname(dir), (name) => name === null || name === basename(dir));
  }

  private stopWatching(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private restartWatching(): void {
    if (!this.options.watch || !this.running) return;
    this.stopWatching();
    this.startWatching();
  }

  private scheduleReload(): void {
    if (!this.running) return;
    this.deps.clock.clearTimeout(this.debounce);
    this.debounce = this.deps.clock.setTimeout(() => {
      this.debounce = undefined;
      this.reload('model folder changed', { onlyIfChanged: true })
        .then(() => this.restartWatching())
        .catch(() => undefined /* logged in reloadNow; the old model keeps serving */);
    }, this.options.debounceMs ?? 1000);
  }
}
