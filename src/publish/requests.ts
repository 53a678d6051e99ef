import type { z } from 'zod';
import { EdgecamError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Component } from '../types.js';
import type { MqttBus } from './mqtt.js';

/**
 * Request/response over MQTT, after Zigbee2MQTT's `bridge/request` → `bridge/response`:
 *
 *   <base>/request/<cmd>   {"threshold": 0.8, "label": "cat", "transaction": 42}
 *   <base>/response/<cmd>  {"status": "ok", "data": {...}, "transaction": 42}
 *                          {"status": "error", "error": "…what to do…", "code": "REQUEST_INVALID", "transaction": 42}
 *
 * Everything that arrives is untrusted: malformed JSON, arrays, wrong types, huge payloads and unknown
 * commands are answered with an error; nothing here throws or rejects.
 */

export interface RequestContext {
  command: string;
  transaction?: string | number;
}

export type RequestHandler<T> = (payload: T, context: RequestContext) => Promise<unknown>;

export interface RequestResponse {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  code?: string;
  transaction?: string | number;
}

export interface RequestRouterOptions {
  /** Larger payloads are refused unread (default 64 KiB). */
  maxPayloadBytes?: number;
}

export interface RequestCounters {
  handled: number;
  failed: number;
  ignored: number;
}

const COMMAND_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TRANSACTION_LENGTH = 128;

interface Registration {
  schema: z.ZodType;
  handler: RequestHandler<unknown>;
}

export class RequestRouter implements Component {
  private readonly registrations = new Map<string, Registration>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counters: RequestCounters = { handled: 0, failed: 0, ignored: 0 };
  private readonly log: Logger;
  private started = false;
  private readonly onMessage = (topic: string, payload: Buffer): Promise<void> => this.track(this.handle(topic, payload));

  constructor(private readonly deps: { mqtt: MqttBus; logger: Logger }, private readonly options: RequestRouterOptions = {}) {
    this.log = deps.logger.child({ component: 'requests' });
  }

  /**
   * Registers `<base>/request/<command>`. The payload (a JSON object, `transaction` removed) is validated by
   * `schema`; the handler's result becomes `data`. Throw an EdgecamError to answer with its code and message.
   */
  register<S extends z.ZodType>(command: string, schema: S, handler: RequestHandler<z.output<S>>): this {
    if (!COMMAND_NAME.test(command)) throw new EdgecamError('REQUEST_BAD_COMMAND', `Command name "${command}" must be 1-64 letters, digits, - or _.`);
    if (this.registrations.has(command)) throw new EdgecamError('REQUEST_DUPLICATE', `Request command "${command}" is registered twice.`);
    this.registrations.set(command, { schema, handler: handler as RequestHandler<unknown> });
    return this;
  }

  commands(): string[] {
    return [...this.registrations.keys()].sort();
  }

  stats(): RequestCounters {
    return { ...this.counters };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.deps.mqtt.subscribe('request/+', this.onMessage);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.deps.mqtt.unsubscribe('request/+', this.onMessage);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Handles one incoming message; exposed for tests and for other transports (HTTP). Never rejects. */
  async handle(topic: string, payload: Buffer): Promise<void> {
    const prefix = this.deps.mqtt.topic('request/');
    const command = topic.startsWith(prefix) ? topic.slice(prefix.length) : '';
    if (!COMMAND_NAME.test(command)) {
      // Not a topic we own (or one we could not answer on safely): ignore.
      this.counters.ignored++;
      return;
    }
    const response = await this.answer(command, payload);
    if (response.status === 'ok') this.counters.handled++;
    else this.counters.failed++;
    const sent = await this.deps.mqtt.publish(`response/${command}`, JSON.stringify(response), { qos: this.deps.mqtt.qos.response });
    if (!sent) this.log.warn({ command }, 'could not publish the response');
  }

  private async answer(command: string, payload: Buffer): Promise<RequestResponse> {
    const maxBytes = this.options.maxPayloadBytes ?? 64 * 1024;
    if (payload.length > maxBytes) {
      return failure('REQUEST_TOO_LARGE', `Payload of ${payload.length} bytes is larger than the ${maxBytes}-byte limit.`);
    }
    let body: unknown = {};
    if (payload.length > 0) {
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch {
        return failure('REQUEST_MALFORMED', 'Payload is not valid JSON; send a JSON object such as {"transaction": 1}.');
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return failure('REQUEST_MALFORMED', 'Payload must be a JSON object, e.g. {} or {"transaction": 1}.');
    }
    const { transaction: rawTransaction, ...rest } = body as Record<string, unknown>;
    const transaction = validTransaction(rawTransaction);
    const withTransaction = (r: RequestResponse): RequestResponse => (transaction === undefined ? r : { ...r, transaction });

    const registration = this.registrations.get(command);
    if (!registration) {
      return withTransaction(failure('REQUEST_UNKNOWN', `Unknown command "${command}". Known commands: ${this.commands().join(', ') || 'none'}.`));
    }
    const parsed = registration.schema.safeParse(rest);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'payload'}: ${i.message}`);
      return withTransaction(failure('REQUEST_INVALID', `Invalid payload for "${command}": ${issues.join('; ')}`));
    }
    try {
      const context: RequestContext = transaction === undefined ? { command } : { command, transaction };
      const data = await registration.handler(parsed.data, context);
      return withTransaction({ status: 'ok', data: data ?? {} });
    } catch (err) {
      const code = err instanceof EdgecamError ? err.code : 'REQUEST_FAILED';
      this.log.warn({ command, code, err: errorMessage(err) }, 'request failed');
      return withTransaction(failure(code, errorMessage(err)));
    }
  }

  private track(work: Promise<void>): Promise<void> {
    const guarded = work.catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'request handling failed'));
    this.inFlight.add(guarded);
    void guarded.finally(() => this.inFlight.delete(guarded));
    return guarded;
  }
}

function failure(code: string, error: string): RequestResponse {
  return { status: 'error', error, code };
}

/** Transactions are echoed only when they are a short string or a finite number (never objects we would re-serialise). */
function validTransaction(value: unknown): string | number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.length <= MAX_TRANSACTION_LENGTH) return value;
  return undefined;
}
