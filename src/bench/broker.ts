import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EdgecamError } from '../errors.js';
import type { Logger } from '../logger.js';
import { EmbeddedBroker } from '../publish/embedded-broker.js';

/**
 * The broker the bench publishes to when no --mqtt-url is given: a private Mosquitto (what most Home Assistant
 * installs run) on a free loopback port, so the bench never touches the user's broker or its retained topics.
 * Without a mosquitto binary it falls back to edgecam's embedded broker and says so.
 */
export interface BenchBroker {
  url: string;
  kind: 'mosquitto' | 'embedded' | 'external';
  stop(): Promise<void>;
}

const MOSQUITTO_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'];

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitListening(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new EdgecamError('BENCH_BROKER', `mosquitto exited before listening: ${output().trim()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  proc.kill('SIGKILL');
  throw new EdgecamError('BENCH_BROKER', `mosquitto did not listen on 127.0.0.1:${port} within 10 s: ${output().trim()}`);
}

async function startMosquitto(bin: string): Promise<BenchBroker> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgecam-bench-broker-'));
  const port = await freeLoopbackPort();
  const conf = path.join(dir, 'mosquitto.conf');
  // As root mosquitto would switch to user `mosquitto`; naming the running user keeps it able to read this folder.
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `user ${os.userInfo().username}`,
    'log_dest stderr', 'log_type error', 'max_queued_messages 100000', ''].join('\n'));
  const proc = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  proc.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
  await waitListening(port, proc, () => output);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    kind: 'mosquitto',
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startBenchBroker(deps: { logger: Logger }, externalUrl?: string): Promise<BenchBroker> {
  if (externalUrl) return { url: externalUrl, kind: 'external', stop: async () => undefined };
  const bin = MOSQUITTO_CANDIDATES.find((p) => existsSync(p));
  if (bin) return startMosquitto(bin);
  deps.logger.warn('mosquitto not found (Debian: apt install mosquitto); using the embedded broker, whose figures differ');
  const broker = new EmbeddedBroker({ logger: deps.logger }, { port: 0, host: '127.0.0.1' });
  await broker.start();
  return { url: broker.url, kind: 'embedded', stop: () => broker.stop() };
}
