import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type ConfigFlags } from './config/load.js';
import type { Config } from './config/schema.js';
import { Daemon } from './daemon.js';
import { SystemdNotifier } from './daemon/systemd-notify.js';
import { ModelError, errorMessage } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { systemClock, type Clock } from './types.js';

/**
 * Composition root (DESIGN.md): config → real dependencies → Daemon, plus what only a process has:
 * signals, systemd notifications, exit codes. Everything else takes its dependencies injected.
 */

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunOptions {
  file?: string;
  flags: ConfigFlags;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** The process to take signals from (tests pass an EventEmitter). */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** The model folder to serve: configured, else ./models/active, else the bundled models/pets-cnn. */
export function resolveModelDir(config: Config, cwd: string): string {
  if (config.model.dir) return resolve(cwd, config.model.dir);
  const candidates = [join(cwd, 'models/active'), join(cwd, 'models/pets-cnn'), join(PACKAGE_ROOT, 'models/active'), join(PACKAGE_ROOT, 'models/pets-cnn')];
  const found = candidates.find((dir) => existsSync(join(dir, 'manifest.json')));
  if (!found) {
    throw new ModelError('MODEL_NOT_CONFIGURED', `No model to serve: none of ${[...new Set(candidates)].join(', ')} holds a manifest.json. Pass --model <folder> (model.onnx + manifest.json) or set model.dir.`);
  }
  return found;
}

/** `folder:samples` (the default) means the bundled samples when the working directory has none. */
export function resolveSource(config: Config, cwd: string): string {
  const spec = config.camera.source;
  if (!spec.startsWith('folder:')) return spec;
  const dir = spec.slice('folder:'.length);
  if (isAbsolute(dir) || existsSync(resolve(cwd, dir))) return `folder:${resolve(cwd, dir)}`;
  const bundled = join(PACKAGE_ROOT, dir);
  return existsSync(bundled) ? `folder:${bundled}` : `folder:${resolve(cwd, dir)}`;
}

/**
 * The bundled demo photos are unrelated scenes; shown one frame each, no label would ever hold long enough to pass
 * smoothing and dwell, and `state` would stay `unknown`. Holding each photo ~3 s behaves like a real doorway.
 */
export function demoRepeat(source: string, fps: number): number {
  return source === `folder:${join(PACKAGE_ROOT, 'samples')}` ? Math.max(1, Math.round(fps * 3)) : 1;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The daemon with its real dependencies (ONNX Runtime, sharp, mqtt.js, the capture watchdog); tests use it too. */
export async function createDaemon(config: Config, logger: Logger, clock: Clock = systemClock, cwd = process.cwd()): Promise<Daemon> {
  const [{ connectAsync }, capture, folder, engine, image] = await Promise.all([
    import('mqtt'), import('./capture/create.js'), import('./models/folder.js'), import('./inference/engine.js'), import('./preprocess/image.js'),
  ]);
  // onnxruntime-node runs inference on the calling thread; on its own thread, sharp's decode of the next frame overlaps it.
  const sessionFactory = config.model.inferenceThread === 'worker' ? (await import('./inference/worker-session.js')).createOrtWorkerSession : undefined;
  const source = resolveSource(config, cwd);
  const modelDir = resolveModelDir(config, cwd);
  const c = config.camera;
  // Checked here so a wrong --source fails now with its message instead of being retried by the watchdog forever.
  capture.parseSourceSpec(source);
  return new Daemon({
    logger, clock, version: packageVersion(),
    mqttConnect: connectAsync,
    createCamera: () => capture.createWatchedSource({ logger, clock }, source, { fps: c.fps, width: c.width, height: c.height, loop: c.loop, repeat: demoRepeat(source, c.fps) }, { stallTimeoutMs: c.stallTimeout * 1000 }),
    loadClassifier: async (dir) => engine.createClassifier({ logger, ...(sessionFactory ? { sessionFactory } : {}) }, {
      folder: await folder.loadModelFolder(dir), providers: config.model.providers, intraOpThreads: config.model.intraOpThreads,
      tensorrtCacheDir: resolve(cwd, config.model.tensorrtCacheDir),
    }),
    preprocess: image.preprocessImage,
  }, { config: { ...config, collect: { ...config.collect, dir: resolve(cwd, config.collect.dir) } }, modelDir });
}

/**
 * `edgecam run`: start everything, serve until SIGTERM/SIGINT, stop cleanly. Resolves with the exit code:
 * 0 after a requested stop, 1 when an essential part cannot start. Config errors reject (the CLI prints them).
 */
export async function runDaemon(options: RunOptions): Promise<number> {
  const cwd = options.cwd ?? process.cwd();
  const { config, warnings, file } = await loadConfig({ ...(options.file ? { file: options.file } : {}), env: options.env, flags: options.flags });
  const logger = createLogger({ level: config.log.level });
  const log = logger.child({ component: 'main' });
  for (const w of warnings) log.warn(w);
  const clock = systemClock;
  const notifier = new SystemdNotifier({ logger, clock, spawn, env: options.env, pid: process.pid });
  const signals = options.signals ?? process;

  let daemon: Daemon;
  try {
    daemon = await createDaemon(config, logger, clock, cwd);
    log.info({ config: file ?? '(none: defaults, environment, flags)' }, 'starting edgecam');
    await daemon.start();
  } catch (err) {
    log.fatal({ err: errorMessage(err), code: (err as { code?: string }).code }, `edgecam could not start: ${errorMessage(err)}`);
    logger.flush();
    return 1;
  }
  await notifier.ready(`serving ${config.mqtt.baseTopic}/${config.mqtt.cameraId}`);

  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (reason: string, code: number): void => {
      if (stopping) return;
      stopping = true;
      log.info({ reason }, 'stopping edgecam');
      // A stop that hangs (a wedged camera or broker) must not keep systemd waiting for TimeoutStopSec.
      const force = setTimeout(() => {
        log.error('clean stop took more than 15 s; exiting anyway');
        resolveExit(1);
      }, 15_000);
      force.unref();
      void notifier.stopping()
        .then(() => daemon.stop())
        .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'error while stopping'))
        .finally(() => {
          clearTimeout(force);
          for (const [name, fn] of handlers) signals.off(name, fn);
          logger.flush();
          resolveExit(code);
        });
    };
    const handlers: [string, (...args: unknown[]) => void][] = [
      ['SIGTERM', () => stop('SIGTERM', 0)],
      ['SIGINT', () => stop('SIGINT', 0)],
      ['SIGHUP', () => {
        log.info('SIGHUP: reloading the model');
        daemon.reloadModel('SIGHUP').catch((err: unknown) => log.error({ err: errorMessage(err) }, 'model reload after SIGHUP failed'));
      }],
      ['unhandledRejection', (err) => {
        // A bug, not an expected failure: log it and exit non-zero so systemd restarts a clean process.
        log.fatal({ err: err instanceof Error ? err.stack : String(err) }, 'unhandled promise rejection');
        stop('unhandledRejection', 1);
      }],
    ];
    for (const [name, fn] of handlers) signals.on(name, fn);
  });
}
