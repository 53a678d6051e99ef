import type { LoadedModel } from '../daemon/model-reloader.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ModelStore, StoreEntry } from '../models/store.js';
import { ApiError } from './api-http.js';
import type { FinetuneProgress } from '../learn/finetune.js';

/** Fine-tune progress as the learning loop reports it; the page shows the fields it knows and the message. */
/** The learning loop's progress record, as `edgecam finetune` reports it. */
export type { FinetuneProgress };

export interface FinetuneControl {
  /** Starts a fine-tune in the background; resolves once it is started (or refused, with a reason). */
  start(): Promise<Record<string, unknown>>;
  progress(): FinetuneProgress | undefined;
}

export interface ModelsBackend {
  logger: Logger;
  /** The versioned store the daemon serves from; undefined when it serves a plain folder. */
  store: ModelStore | undefined;
  serving(): LoadedModel | undefined;
  /** Reload the configured model folder now (the store's `active`), keeping the old one on failure. */
  reload(reason: string): Promise<unknown>;
  finetune?: FinetuneControl | undefined;
}

export interface VersionRow {
  version: string;
  name?: string;
  created?: string;
  labels?: string[];
  status: string;
  reason?: string;
  active: boolean;
  previous: boolean;
  serving: boolean;
  metrics: Record<string, unknown>;
  gate?: Record<string, unknown>;
  parentVersion?: string;
  datasetSummary?: Record<string, number>;
  error?: string;
}

function row(e: StoreEntry, serving: LoadedModel | undefined): VersionRow {
  const m = e.manifest;
  return {
    version: e.version, status: e.status, active: e.active, previous: e.previous,
    serving: serving !== undefined && serving.dir === e.dir,
    metrics: m?.metrics ?? {},
    ...(m ? { name: m.name, created: m.created, labels: m.labels } : {}),
    ...(m?.provenance.parentVersion ? { parentVersion: m.provenance.parentVersion } : {}),
    ...(m?.provenance.datasetSummary ? { datasetSummary: m.provenance.datasetSummary } : {}),
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.gate ? { gate: e.gate } : {}),
    ...(e.error ? { error: e.error } : {}),
  };
}

/** GET /api/models: every version (newest first) with its metrics, which one is active/previous/serving, fine-tune progress. */
export async function modelsPayload(b: ModelsBackend): Promise<Record<string, unknown>> {
  const serving = b.serving();
  const base = {
    serving: serving ? { name: serving.name, version: serving.version, provider: serving.provider, dir: serving.dir } : null,
    finetune: b.finetune ? (b.finetune.progress() ?? { state: 'idle' }) : null,
  };
  if (!b.store) {
    return { ...base, store: null, versions: [], hint: 'The daemon serves a plain model folder, not a versioned store: set model.dir to <models>/active (or leave it unset) to switch versions here.' };
  }
  const entries = await b.store.list();
  return { ...base, store: b.store.root, versions: entries.map((e) => row(e, serving)).reverse() };
}

async function afterSwitch(b: ModelsBackend, what: string): Promise<Record<string, unknown>> {
  try {
    await b.reload(`web page: ${what}`);
  } catch (err) {
    // The store switched but the daemon kept the old model (it failed to load): say so, the page shows it.
    b.logger.warn({ err: errorMessage(err) }, `${what}: the daemon kept its previous model`);
    return { ...(await modelsPayload(b)), warning: errorMessage(err) };
  }
  return modelsPayload(b);
}

function requireStore(b: ModelsBackend): ModelStore {
  if (!b.store) throw new ApiError(409, 'API_NO_STORE', 'The daemon serves a plain model folder, not a versioned store; there are no versions to switch.');
  return b.store;
}

/** POST /api/models/activate {version}: the store's active pointer, then the daemon reloads. */
export async function activateVersion(b: ModelsBackend, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const version = body.version;
  if (typeof version !== 'string' || !version) throw new ApiError(400, 'API_BAD_REQUEST', 'Send {"version": "<version>"}; the versions are listed by GET /api/models.');
  await requireStore(b).activate(version);
  return afterSwitch(b, `activate ${version}`);
}

/** POST /api/models/rollback: back to the previous version (twice is a toggle, like `edgecam model rollback`). */
export async function rollbackVersion(b: ModelsBackend): Promise<Record<string, unknown>> {
  const result = await requireStore(b).rollback();
  return afterSwitch(b, `rollback to ${result.active}`);
}

/** POST /api/models/finetune: start a fine-tune now. */
export async function startFinetune(b: ModelsBackend): Promise<Record<string, unknown>> {
  if (!b.finetune) throw new ApiError(501, 'API_NO_FINETUNE', 'Fine-tuning is not available in this daemon; run `edgecam finetune` on the device.');
  return { started: await b.finetune.start(), finetune: b.finetune.progress() ?? null };
}
