import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { writeModelFolder } from '../../src/models/folder.js';

/**
 * A real ONNX model whose answer the test can predict: the mean of each colour channel, scaled ×12, softmaxed.
 * A pure red image gives probabilities ≈ [1, 0, 0] for labels [l0, l1, l2]. Runs in onnxruntime-node like any model.
 */
export async function writeColourModel(dir: string, labels: [string, string, string], version = '1'): Promise<void> {
  const size = 16;
  const b = new GraphBuilder({ name: 'colour' });
  let x = b.input('input', ['N', 3, size, size]);
  x = b.flatten(b.globalAveragePool(x));
  x = b.gemm(x, { data: Float32Array.from([12, 0, 0, 0, 12, 0, 0, 0, 12]), dims: [3, 3] }, { data: new Float32Array(3), dims: [3] }, { transB: true });
  b.output(b.softmax(x, 1, 'probs'), ['N', 3]);
  await writeModelFolder(dir, {
    modelBytes: b.toBytes(), overwrite: true,
    manifest: {
      name: 'colour', version, created: '2024-01-01T00:00:00.000Z', labels,
      input: { name: 'input', shape: [-1, 3, size, size], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
      preprocess: { resize: 'squash', size: [size, size], scale: 1 / 255 },
      output: { name: 'probs', kind: 'probabilities' },
    },
  });
}

export async function solidJpeg(r: number, g: number, b: number): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();
}

export async function writeImages(dir: string, names: Record<string, Buffer>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, data] of Object.entries(names)) await writeFile(join(dir, name), data);
}

export interface Message { topic: string; payload: Buffer; retain: boolean }

/** A plain mqtt.js subscriber that records everything, for asserting on what the daemon published. */
export class Recorder {
  readonly messages: Message[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.messages.push({ topic, payload, retain: packet.retain }));
  }

  static async connect(url: string, filters: string[]): Promise<Recorder> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, clientId: `rec-${Math.random().toString(16).slice(2)}` });
    const rec = new Recorder(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return rec;
  }

  /** The first message (from index `from`) matching; waits up to `ms` (a bound, not a timed assertion). */
  async next(predicate: (m: Message) => boolean, ms = 15_000, from = 0): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`no matching message within ${ms} ms; got topics: ${[...new Set(this.messages.map((m) => m.topic))].join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  on(topic: string, text?: string): (m: Message) => boolean {
    return (m) => m.topic === topic && (text === undefined || m.payload.toString() === text);
  }

  /** Send a request and wait for the response carrying the same transaction. */
  async request(base: string, command: string, body: string | Record<string, unknown>, transaction: number, ms = 15_000): Promise<Record<string, unknown>> {
    const from = this.messages.length;
    const payload = typeof body === 'string' ? body : JSON.stringify({ ...body, transaction });
    await this.client.publishAsync(`${base}/request/${command}`, payload, { qos: 1 });
    const m = await this.next((x) => x.topic === `${base}/response/${command}` && (typeof body === 'string' || (JSON.parse(x.payload.toString()) as { transaction?: number }).transaction === transaction), ms, from);
    return JSON.parse(m.payload.toString()) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export async function waitUntil(cond: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
