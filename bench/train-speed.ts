/**
 * bench/train-speed: trains the same small CNN on the same synthetic images with edgecam (tfjs on the backend
 * initTrainingBackend picks) and with PyTorch (Debian's python3-torch, 2 threads), in one run, and prints a table and,
 * as its last line, JSON {"edgecam_ips", "pytorch_ips", "ratio", "backend"}.
 *
 *   bash bench/train-speed.sh [--samples 1024] [--epochs 3] [--warmup-epochs 1] [--threads 0=auto] [--backend auto]
 *
 * Both sides: 64×64×3 input, [Conv3x3 32 relu, MaxPool2], [Conv3x3 64 relu, MaxPool2], Flatten, Dense 128 relu,
 * Dense 2 softmax, batch 32, Adam 1e-3; warm-up epochs, then timed epochs. Images/s is wall-clock; "cpu ips" (images
 * per CPU-second of the whole process) is printed too because the build machine is shared and its load varies.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initTrainingBackend, type TrainingBackendPreference } from '../src/learn/backend/index.js';
import { createLogger } from '../src/logger.js';
import { createAdam } from '../src/learn/optimizer.js';

interface Options { samples: number; epochs: number; warmupEpochs: number; threads: number; batchSize: number; size: number; backend: TrainingBackendPreference }
interface SideResult { ips: number; cpuIps: number; epochSeconds: number; detail: string }

const PYTHON = '/usr/bin/python3';

function parseOptions(argv: string[]): Options {
  const options: Options = { samples: 1024, epochs: 3, warmupEpochs: 1, threads: 0, batchSize: 32, size: 64, backend: 'auto' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = argv[i + 1];
    if (!(key in options) || value === undefined) throw new Error(`unknown or incomplete option ${argv[i]} (see the header of bench/train-speed.ts)`);
    (options as unknown as Record<string, unknown>)[key] = key === 'backend' ? value : Number(value);
  }
  return options;
}

/** Two classes, class 1 brighter: learnable, so both sides do real work. Seeded for repeatability. */
function syntheticData(o: Options): { images: Float32Array; labels: Int32Array } {
  let state = 12345;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pixels = o.size * o.size * 3;
  const images = new Float32Array(o.samples * pixels);
  const labels = new Int32Array(o.samples);
  for (let n = 0; n < o.samples; n++) {
    labels[n] = next() < 0.5 ? 0 : 1;
    for (let p = 0; p < pixels; p++) images[n * pixels + p] = next() * 0.5 + labels[n]! * 0.5;
  }
  return { images, labels };
}

function buildModel(size: number): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [size, size, 3], filters: 32, kernelSize: 3, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
  // edgecam's Adam (learn/optimizer.ts: tf.train.adam's algorithm and defaults, fused into one kernel per variable on wasm).
  model.compile({ optimizer: createAdam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function runEdgecam(o: Options, data: { images: Float32Array; labels: Int32Array }): Promise<SideResult & { backend: string }> {
  const chosen = await initTrainingBackend({ logger: createLogger({ level: 'warn', pretty: false, destination: process.stderr }), prefer: o.backend, ...(o.threads > 0 ? { threads: o.threads } : {}) });
  const x = tf.tensor4d(data.images, [o.samples, o.size, o.size, 3]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.labels, 'int32'), 2).toFloat());
  const model = buildModel(o.size);
  const fit = (epochs: number) => model.fit(x, y, { batchSize: o.batchSize, epochs, shuffle: true, verbose: 0 });
  if (o.warmupEpochs > 0) await fit(o.warmupEpochs);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const history = await fit(o.epochs);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const images = o.samples * o.epochs;
  const losses = history.history.loss as number[];
  tf.dispose([x, y]);
  model.dispose();
  return {
    backend: chosen.backend, ips: images / seconds, cpuIps: images / ((cpu.user + cpu.system) / 1e6), epochSeconds: seconds / o.epochs,
    detail: `${chosen.details}; final loss ${losses[losses.length - 1]?.toFixed(4)}`,
  };
}

function ensureTorch(): void {
  if (spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return;
  console.error('python3-torch is missing: installing it with apt-get (Debian package, as Debian ships it)…');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const command = asRoot ? ['apt-get', 'install', '-y', 'python3-torch'] : ['sudo', 'apt-get', 'install', '-y', 'python3-torch'];
  const result = spawnSync(command[0]!, command.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (result.status !== 0 || spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`could not install python3-torch (${command.join(' ')} exited ${result.status}); install it by hand and re-run`);
  }
}

function pytorchScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // From dist/bench/ or from bench/ (ts-node style runs).
  const candidates = [path.resolve(here, '../../bench/train_speed_pytorch.py'), path.resolve(here, 'train_speed_pytorch.py')];
  const found = candidates.find((file) => existsSync(file));
  if (!found) throw new Error(`bench/train_speed_pytorch.py not found next to ${here}`);
  return found;
}

function runPytorch(o: Options, data: { images: Float32Array; labels: Int32Array }): SideResult {
  ensureTorch();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgecam-train-speed-'));
  try {
    writeFileSync(path.join(dir, 'images.f32'), new Uint8Array(data.images.buffer, data.images.byteOffset, data.images.byteLength));
    writeFileSync(path.join(dir, 'labels.i32'), new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
    const args = [pytorchScript(), '--samples', `${o.samples}`, '--batch-size', `${o.batchSize}`, '--size', `${o.size}`,
      '--warmup-epochs', `${o.warmupEpochs}`, '--epochs', `${o.epochs}`, '--threads', '2', '--data-dir', dir];
    const result = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (result.status !== 0) throw new Error(`PyTorch run failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const lastLine = result.stdout.trim().split('\n').pop() ?? '';
    const parsed = JSON.parse(lastLine) as { ips: number; cpu_ips: number; epoch_seconds: number; threads: number; torch: string; final_loss: number };
    return { ips: parsed.ips, cpuIps: parsed.cpu_ips, epochSeconds: parsed.epoch_seconds, detail: `torch ${parsed.torch}, ${parsed.threads} threads; final loss ${parsed.final_loss.toFixed(4)}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function load(): string {
  return os.loadavg().map((v) => v.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const data = syntheticData(o);
  console.log(`train-speed: ${o.samples} images ${o.size}x${o.size}x3, batch ${o.batchSize}, ${o.warmupEpochs} warm-up + ${o.epochs} timed epochs; ${os.cpus().length} CPUs, load ${load()}`);
  const edgecam = await runEdgecam(o, data);
  console.log(`edgecam done (load ${load()})`);
  let pytorch: SideResult | undefined;
  try {
    pytorch = runPytorch(o, data);
    console.log(`pytorch done (load ${load()})`);
  } catch (err) {
    console.error(`PyTorch side skipped: ${err instanceof Error ? err.message : String(err)}`);
  }
  const row = (name: string, r: SideResult | undefined) =>
    `| ${name.padEnd(8)} | ${r ? r.ips.toFixed(1).padStart(8) : '     n/a'} | ${r ? r.cpuIps.toFixed(1).padStart(8) : '     n/a'} | ${r ? r.epochSeconds.toFixed(2).padStart(7) : '    n/a'} | ${r?.detail ?? ''}`;
  console.log('| side     |    img/s |  cpu ips | s/epoch | details');
  console.log('|----------|----------|----------|---------|--------');
  console.log(row('edgecam', edgecam));
  console.log(row('pytorch', pytorch));
  const ratio = pytorch ? edgecam.ips / pytorch.ips : null;
  if (pytorch) console.log(`ratio edgecam/pytorch: ${ratio!.toFixed(3)} wall-clock, ${(edgecam.cpuIps / pytorch.cpuIps).toFixed(3)} per CPU-second`);
  const round = (v: number) => Math.round(v * 10) / 10;
  console.log(JSON.stringify({ edgecam_ips: round(edgecam.ips), pytorch_ips: pytorch ? round(pytorch.ips) : null, ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000, backend: edgecam.backend }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
