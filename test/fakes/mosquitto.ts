import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A REAL mosquitto broker for tests, on its own free port on 127.0.0.1 with a generated config.
 * Not a fake in behaviour: only "fake" in that the test owns its lifecycle (start, kill, restart).
 *
 *   const broker = await startMosquitto({ persistence: true, auth: { username: 'u', password: 'p' }, tls: true });
 *   // broker.url = 'mqtts://127.0.0.1:<port>', broker.caFile = CA that signed the server certificate
 *   await broker.kill();      // SIGKILL, like a crash or power cut
 *   await broker.restart();   // same port, same persistence folder
 *   await broker.stop();      // SIGTERM and remove the temp folder
 */

const execFileAsync = promisify(execFile);
export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  /** Keep retained messages and persistent sessions on disk across restart()/kill(). */
  persistence?: boolean;
  /** Require this username/password (anonymous access disabled). */
  auth?: { username: string; password: string };
  /** Serve MQTT over TLS with a self-signed CA made for this broker. */
  tls?: boolean;
  /** Extra lines appended to mosquitto.conf. */
  extraConfig?: string[];
}

export interface MosquittoBroker {
  url: string;
  port: number;
  /** PEM file of the CA that signed the server certificate (TLS only). */
  caFile?: string;
  /** The folder holding the config, logs, persistence and certificates. */
  dir: string;
  /** Everything mosquitto printed so far (useful in assertion messages). */
  log(): string;
  /** Graceful stop (SIGTERM, mosquitto saves persistence) and removal of the temp folder. Safe twice. */
  stop(): Promise<void>;
  /**
   * SIGKILL: no goodbye, no final save. The folder is kept so restart() can bring it back.
   * Measured with mosquitto 2.0.11: after kill + restart, a restored clean:false session lost ~15 of the first
   * messages queued for it in about 1 run in 4 (all were PUBACKed to the publisher). Use shutdown() where
   * a test needs every message of a persistent session.
   */
  kill(): Promise<void>;
  /** SIGTERM (mosquitto saves its persistence and exits), folder kept; restart() brings it back. */
  shutdown(): Promise<void>;
  /** Graceful stop if running, then start again on the same port with the same persistence. */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edgecam-mosquitto-'));
  const port = await freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    // As root, mosquitto drops privileges to user `mosquitto`, which could not read this folder;
    // naming the running user keeps it (and the persistence folder stays owned by us: FIELD-NOTES).
    `user ${os.userInfo().username}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'max_queued_messages 100000',
  ];
  if (options.persistence) {
    const dataDir = path.join(dir, 'data');
    await mkdir(dataDir);
    // Save on every change so that kill() (no final save) loses as little as a real crash with a tuned broker.
    lines.push('persistence true', `persistence_location ${dataDir}/`, 'autosave_interval 1', 'autosave_on_changes true');
  }
  if (options.auth) {
    const passwordFile = path.join(dir, 'passwords');
    await execFileAsync('mosquitto_passwd', ['-b', '-c', passwordFile, options.auth.username, options.auth.password]);
    lines.push('allow_anonymous false', `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  let caFile: string | undefined;
  if (options.tls) {
    const certs = await makeCertificates(dir);
    caFile = certs.caFile;
    lines.push(`cafile ${certs.caFile}`, `certfile ${certs.certFile}`, `keyfile ${certs.keyFile}`, 'tls_version tlsv1.2');
  }
  lines.push(...(options.extraConfig ?? []));
  const confFile = path.join(dir, 'mosquitto.conf');
  await writeFile(confFile, `${lines.join('\n')}\n`);

  let child: ChildProcess | undefined;
  let output = '';
  let removed = false;

  const launch = async (): Promise<void> => {
    const proc = spawn(MOSQUITTO_BIN, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    proc.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    await waitForPort(port, proc, () => output);
  };
  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    url: `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    port,
    caFile,
    dir,
    log: () => output,
    stop: async () => {
      await terminate('SIGTERM');
      if (!removed) {
        removed = true;
        await rm(dir, { recursive: true, force: true });
      }
    },
    kill: async () => { await terminate('SIGKILL'); },
    shutdown: async () => { await terminate('SIGTERM'); },
    restart: async () => {
      await terminate('SIGTERM');
      await launch();
    },
  };
}

/** Resolves once the broker accepts TCP connections; rejects with its output if it exits first. */
async function waitForPort(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`mosquitto exited (${proc.exitCode ?? proc.signalCode}) before listening on ${port}:\n${output()}`);
    }
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  proc.kill('SIGKILL');
  throw new Error(`mosquitto did not listen on ${port} within 10 s:\n${output()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** A throw-away CA and a server certificate for 127.0.0.1/localhost signed by it (EC keys: fast to make). */
async function makeCertificates(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const p = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await execFileAsync('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=edgecam test CA']);
  await execFileAsync('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  await writeFile(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await execFileAsync('openssl', [
    'x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial',
    '-out', p('server.crt'), '-days', '2', '-extfile', p('server.ext'),
  ]);
  return { caFile: p('ca.crt'), certFile: p('server.crt'), keyFile: p('server.key') };
}
