import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EdgecamError } from '../errors.js';

/**
 * Startup time of the real product: `edgecam run` as a new process, from spawn to the first classification
 * message a subscriber receives on the broker (node start, imports, config, MQTT connect, model load and
 * warm-up, camera start, first frame through the pipeline). Nothing here is in-process: this is what systemd sees.
 */

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface StartupOptions {
  modelDir: string;
  framesDir: string;
  mqttUrl: string;
  intraOpThreads: number;
  /** Give up after this long (a bound, not a target). */
  timeoutMs?: number;
}

export async function measureStartup(options: StartupOptions): Promise<number> {
  const mqtt = await import('mqtt');
  const base = `edgecam-bench-startup-${randomBytes(4).toString('hex')}`;
  const topic = `${base}/bench/classification`;
  const subscriber = await mqtt.connectAsync(options.mqttUrl, { clientId: `${base}-sub`, reconnectPeriod: 0 });
  try {
    await subscriber.subscribeAsync(topic, { qos: 0 });
    const first = new Promise<number>((resolve) => subscriber.once('message', () => resolve(performance.now())));
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'run', '--model', options.modelDir, '--source', `folder:${options.framesDir}`,
      '--mqtt-url', options.mqttUrl, '--base-topic', base, '--camera-id', 'bench', '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: tmpdir(),
      // Same settings as the pipeline run; discovery off there too (1000 ImageNet classes would be 1000 sensors).
      env: { ...process.env, EDGECAM_MQTT_DISCOVERY_ENABLED: 'false', EDGECAM_HTTP_ENABLED: 'false', EDGECAM_MODEL_PROVIDERS: 'cpu',
        EDGECAM_MODEL_INTRA_OP_THREADS: String(options.intraOpThreads), EDGECAM_MODEL_WATCH: 'false' },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      first.then((at) => ({ at })),
      exited.then((code) => ({ exit: code })),
      new Promise<{ timeout: true }>((resolve) => { timer = setTimeout(() => resolve({ timeout: true }), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    if ('at' in outcome) return outcome.at - started;
    const why = 'exit' in outcome ? `exited with code ${outcome.exit}` : `gave no classification within ${timeoutMs} ms`;
    throw new EdgecamError('BENCH_STARTUP', `edgecam run ${why}: ${stderr.trim().slice(-1500)}`);
  } finally {
    await subscriber.endAsync(true);
  }
}
