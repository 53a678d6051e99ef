import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EdgecamError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Component } from '../types.js';
import { renderPrometheus, type Metric } from './metrics.js';

export interface HealthReport {
  /** True when the camera delivers frames and a model is loaded. */
  healthy: boolean;
  /** Why it is not healthy, one sentence each. Empty when healthy. */
  reasons: string[];
  [detail: string]: unknown;
}

/**
 * Extra routes mounted on the same server (the web page and its /api, src/http/api.ts). Returns true when it took
 * the request (and answers it itself, catching its own errors); false lets the built-in routes answer.
 */
export type HttpExtension = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export interface HttpDeps {
  logger: Logger;
  health: () => HealthReport;
  metrics: () => Metric[];
  extensions?: HttpExtension[];
}

export interface HttpOptions {
  host: string;
  /** 0 picks a free port; read it back from `port` after start(). */
  port: number;
}

/**
 * GET /healthz (200 or 503 with reasons, for systemd/Docker/uptime checks) and GET /metrics (Prometheus).
 * Read-only and cheap: each request asks the daemon for a snapshot; nothing is cached.
 */
export class HttpServer implements Component {
  private server: Server | undefined;

  constructor(
    private readonly deps: HttpDeps,
    private readonly options: HttpOptions,
  ) {}

  /** The port actually listened on (useful with port 0). */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new EdgecamError('HTTP_LISTEN_FAILED', `Cannot serve HTTP on ${this.options.host}:${this.options.port} (${err.code ?? err.message}); choose another port with --http-port or http.port, or disable it with http.enabled: false.`, { cause: err }));
      });
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    server.on('error', (err) => this.deps.logger.warn({ err: errorMessage(err) }, 'HTTP server error'));
    this.server = server;
    this.deps.logger.info({ host: this.options.host, port: this.port }, 'HTTP /healthz and /metrics listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (this.deps.extensions?.some((extension) => extension(req, res, path))) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        this.send(res, 405, 'application/json', JSON.stringify({ error: 'only GET is supported' }), { allow: 'GET, HEAD' });
      } else if (path === '/healthz') {
        const report = this.deps.health();
        this.send(res, report.healthy ? 200 : 503, 'application/json', JSON.stringify(report));
      } else if (path === '/metrics') {
        this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(this.deps.metrics()));
      } else {
        this.send(res, 404, 'application/json', JSON.stringify({ error: `no such path ${path}; try /healthz or /metrics` }));
      }
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err), path }, 'HTTP handler failed');
      this.send(res, 500, 'application/json', JSON.stringify({ error: errorMessage(err) }));
    }
  }

  private send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}
