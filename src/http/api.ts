import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ModelStore } from '../models/store.js';
import { checkAccess, checkChangeRequest, type AccessDecision } from './api-auth.js';
import { readJsonBody, sendBytes, sendJson, statusOf } from './api-http.js';
import { labelFrames, labelFramesPayload, undoLabel, unlabelledCount, unlabelledImage } from './api-label.js';
import { FpsMeter, livePayload, sendLatestFrame, type LiveDaemon } from './api-live.js';
import { activateVersion, modelsPayload, rollbackVersion, startFinetune, type FinetuneControl, type ModelsBackend } from './api-models.js';
import { StaticFiles } from './api-static.js';
import type { HttpExtension } from './server.js';

/**
 * The web page on the device (issue 6), mounted on the daemon's HTTP server beside /healthz and /metrics:
 *
 *   GET  /                       the page (src/http/ui/index.html; /ui/<file> for its CSS and modules)
 *   GET  /api/live               stable label, scores, smoothing state, model, fps, latency, drops
 *   GET  /api/frame              the newest camera frame (ETag = frame id; the page polls it at ≤ 2.5 fps)
 *   GET  /api/label/frames       unlabelled frames, most uncertain first, and the classes
 *   GET  /api/label/count        how many frames wait for a label
 *   GET  /api/label/image/<id>   one unlabelled frame's image
 *   POST /api/label              {ids, label}: label frames (setLabels, as `edgecam label set`)
 *   POST /api/label/undo         {id, label|null}: put a frame back
 *   GET  /api/models             versions with metrics, active/previous/serving, fine-tune progress
 *   POST /api/models/activate    {version}
 *   POST /api/models/rollback
 *   POST /api/models/finetune
 *
 * Every handler reads state the daemon already holds or the disk; none waits on the pipeline, so no frame waits on
 * the page. Access: see api-auth.ts.
 */

export interface WebUiDaemon extends LiveDaemon {
  reloadModel(reason: string): Promise<unknown>;
}

export interface WebUiDeps {
  logger: Logger;
  daemon: WebUiDaemon;
  /** The versioned model store the daemon serves from (undefined: a plain model folder). */
  store?: ModelStore | undefined;
  finetune?: FinetuneControl | undefined;
}

export interface WebUiOptions {
  /** http.auth: password/token; unset → only this machine. */
  auth?: string | undefined;
  /** The collection folder (collect.dir). */
  dataDir: string;
  /** Where the page's files are (default: the package's src/http/ui/). */
  uiDir?: string;
  /** Unlabelled frames sent to the label view at most. Default 120. */
  labelPageSize?: number;
}

/** The store a model folder belongs to: <root>/active → <root>; any other folder is not a store's. */
export function storeRootOf(modelDir: string): string | undefined {
  return basename(modelDir) === 'active' ? dirname(modelDir) : undefined;
}

type Handler = (req: IncomingMessage, res: ServerResponse, rest: string) => Promise<void>;

export function createWebUi(deps: WebUiDeps, options: WebUiOptions): HttpExtension {
  const files = new StaticFiles(options.uiDir);
  const fps = new FpsMeter();
  const log = deps.logger;
  const models: ModelsBackend = {
    logger: log, store: deps.store, finetune: deps.finetune,
    serving: () => deps.daemon.snapshot().model,
    reload: (reason) => deps.daemon.reloadModel(reason),
  };
  const json = (fn: (req: IncomingMessage, rest: string) => Promise<unknown> | unknown): Handler => async (req, res, rest) => {
    sendJson(res, 200, await fn(req, rest));
  };
  const change = (fn: (body: Record<string, unknown>) => Promise<unknown>): Handler => json(async (req) => fn(await readJsonBody(req)));

  const get: Record<string, Handler> = {
    '/': async (_req, res) => files.send(res, 'index.html'),
    '/index.html': async (_req, res) => files.send(res, 'index.html'),
    '/ui/': async (_req, res, rest) => files.send(res, rest),
    '/api/live': json(() => {
      const s = deps.daemon.snapshot();
      return livePayload(s, deps.daemon.live(), fps.sample(s.counters.classified, s.now));
    }),
    '/api/frame': async (req, res) => sendLatestFrame(req, res, deps.daemon.live().frame),
    '/api/label/frames': json(() => labelFramesPayload(options.dataDir, deps.daemon.snapshot().model?.labels ?? [], options.labelPageSize ?? 120)),
    '/api/label/count': json(() => unlabelledCount(options.dataDir)),
    '/api/label/image/': async (_req, res, rest) => {
      const img = await unlabelledImage(options.dataDir, decodeURIComponent(rest));
      sendBytes(res, img.type, img.data, { 'cache-control': 'private, max-age=3600' });
    },
    '/api/models': json(() => modelsPayload(models)),
  };
  const post: Record<string, Handler> = {
    '/api/label': change(async (body) => {
      const result = await labelFrames(options.dataDir, body);
      log.info({ labelled: result.labelled, missing: result.missing }, 'frames labelled from the web page');
      return result;
    }),
    '/api/label/undo': change((body) => undoLabel(options.dataDir, body)),
    '/api/models/activate': change((body) => activateVersion(models, body)),
    '/api/models/rollback': change(() => rollbackVersion(models)),
    '/api/models/finetune': change(() => startFinetune(models)),
  };

  const route = (table: Record<string, Handler>, path: string): { handler: Handler; rest: string } | undefined => {
    if (table[path] && !path.endsWith('/')) return { handler: table[path], rest: '' };
    if (path === '/') return table['/'] ? { handler: table['/'], rest: '' } : undefined;
    for (const prefix of Object.keys(table).filter((k) => k.endsWith('/') && k !== '/')) {
      if (path.startsWith(prefix) && path.length > prefix.length) return { handler: table[prefix]!, rest: path.slice(prefix.length) };
    }
    return undefined;
  };

  const refuse = (res: ServerResponse, d: Exclude<AccessDecision, { ok: true }>): void => sendJson(res, d.status, { error: d.message }, d.headers);

  return (req, res, path) => {
    const mine = path === '/' || path === '/index.html' || path === '/favicon.ico' || path.startsWith('/ui/') || path === '/api' || path.startsWith('/api/');
    if (!mine) return false;
    const access = checkAccess(req, { auth: options.auth });
    if (!access.ok) {
      refuse(res, access);
      return true;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'max-age=86400' });
      res.end();
      return true;
    }
    const method = req.method ?? 'GET';
    const isGet = method === 'GET' || method === 'HEAD';
    const found = route(isGet ? get : method === 'POST' ? post : {}, path);
    if (!found) {
      const other = route(isGet ? post : get, path);
      if (other) sendJson(res, 405, { error: `${path} takes ${isGet ? 'POST' : 'GET'}` }, { allow: isGet ? 'POST' : 'GET, HEAD' });
      else sendJson(res, 404, { error: `no such page or API ${path}` });
      return true;
    }
    if (!isGet) {
      const ok = checkChangeRequest(req);
      if (!ok.ok) {
        refuse(res, ok);
        return true;
      }
    }
    found.handler(req, res, found.rest).catch((err: unknown) => {
      const status = statusOf(err);
      if (status >= 500) log.warn({ err: errorMessage(err), path }, 'web page request failed');
      if (res.headersSent) res.destroy();
      else sendJson(res, status, { error: errorMessage(err), ...((err as { code?: string }).code ? { code: (err as { code: string }).code } : {}) });
    });
    return true;
  };
}
