import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EdgecamError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadModelFolder, type ModelFolder } from './folder.js';
import { ModelStore } from './store.js';
import { downloadWithResume, removePart, type FetchFn } from './store/download.js';
import { readModelTar } from './store/tar.js';
import { checkSha256, checkSignature } from './verify.js';

/**
 * Field updates (issue 5 item 6): get the update (URL with resume and a stall timeout, a .tar/.tar.gz file, or a
 * folder), verify sha256 and an ed25519 signature, validate the manifest against the graph, smoke-test it on a
 * stored frame, store it as a new version, activate it, then watch the daemon's /healthz: if the daemon does not
 * serve the new version healthily for `watchSeconds`, roll back. Every failure before activation leaves the store
 * and the serving model untouched.
 */

export interface InstallOptions {
  source: string;
  models: string;
  sha256?: string;
  /** Base64 signature text, or a path to a file holding it. */
  signature?: string;
  /** PEM public key file; when set, an update without a valid signature is refused. */
  publicKey?: string;
  stallTimeoutMs: number;
  healthUrl?: string;
  watchSeconds: number;
  /** An image to smoke-test with; default: the newest collected frame in `data`, else a grey test image. */
  smokeImage?: string;
  data?: string;
  activate: boolean;
}

export interface InstallDeps {
  logger: Logger;
  fetch?: FetchFn;
  sleep?: (ms: number) => Promise<void>;
  /** Runs the model once on an image (default: ONNX Runtime + the shared preprocessing). */
  smokeTest?: (folder: ModelFolder, image: Uint8Array) => Promise<void>;
  checkpoint?: (step: string) => Promise<void>;
}

export interface InstallResult {
  version: string;
  activated: boolean;
  previous?: string;
  watched: 'healthy' | 'no-daemon' | 'skipped';
  download?: { bytes: number; resumedFrom: number };
}

const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

export async function installModel(deps: InstallDeps, o: InstallOptions): Promise<InstallResult> {
  const log = deps.logger.child({ component: 'install' });
  const store = new ModelStore({ logger: deps.logger, ...(deps.checkpoint ? { checkpoint: deps.checkpoint } : {}) }, o.models);
  await mkdir(store.root, { recursive: true });
  const staging = join(store.root, `.install.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let download: InstallResult['download'];
  let part: string | undefined;
  try {
    let files: Map<string, Uint8Array>;
    const folderSource = !isUrl(o.source) && (await stat(o.source).catch(() => undefined))?.isDirectory();
    if (folderSource) {
      if (o.publicKey || o.signature || o.sha256) throw new EdgecamError('UPDATE_FOLDER_UNSIGNED', 'a folder cannot carry a signature or sha256; pack it (tar czf update.tar.gz -C <folder> .) and sign the file');
      files = new Map();
    } else {
      let bytes: Uint8Array;
      if (isUrl(o.source)) {
        part = join(store.root, '.downloads', `${createHash('sha256').update(o.source).digest('hex').slice(0, 16)}.part`);
        const d = await downloadWithResume(deps.fetch ?? fetch, o.source, part, o.stallTimeoutMs);
        download = { bytes: d.bytes, resumedFrom: d.resumedFrom };
        bytes = await readFile(part);
      } else {
        bytes = await readFile(o.source).catch((err: Error) => { throw new EdgecamError('UPDATE_NOT_FOUND', `cannot read ${o.source}: ${err.message}`); });
      }
      await deps.checkpoint?.('install:downloaded');
      if (o.sha256) checkSha256(bytes, o.sha256, o.source);
      if (o.publicKey) {
        if (!o.signature) throw new EdgecamError('UPDATE_SIGNATURE_MISSING', `a public key is configured (${o.publicKey}), so updates must be signed; pass --signature <file.sig> (made with \`edgecam model sign\`)`);
        const pem = await readFile(o.publicKey).catch((err: Error) => { throw new EdgecamError('UPDATE_BAD_PUBKEY', `cannot read the public key ${o.publicKey}: ${err.message}`); });
        checkSignature(bytes, await signatureText(o.signature), pem, o.source);
      } else if (o.signature) {
        throw new EdgecamError('UPDATE_NO_PUBKEY', 'a signature was given but no public key to check it with; pass --pubkey <file.pub> (or set update.publicKey)');
      }
      files = readModelTar(bytes, o.source);
      await mkdir(staging);
      for (const [name, data] of files) await writeFile(join(staging, name), data);
      await deps.checkpoint?.('install:extracted');
    }
    const folder = await loadModelFolder(folderSource ? o.source : staging);
    await smoke(deps, folder, o);
    await deps.checkpoint?.('install:verified');
    const version = folder.manifest.version;
    await store.addFolder(folder.dir, { status: 'installed', reason: `installed from ${o.source}` });
    if (part) await removePart(part);
    if (!o.activate) return { version, activated: false, watched: 'skipped', ...(download ? { download } : {}) };

    const daemonUp = o.healthUrl ? (await health(deps, o.healthUrl)) !== undefined : false;
    const { previous } = await store.activate(version);
    log.info({ version, previous }, 'update activated');
    if (!o.healthUrl || o.watchSeconds <= 0) return { version, activated: true, watched: 'skipped', ...(previous ? { previous } : {}), ...(download ? { download } : {}) };
    if (!daemonUp) {
      log.warn({ url: o.healthUrl }, 'no daemon answered before activation; activated without watching its health');
      return { version, activated: true, watched: 'no-daemon', ...(previous ? { previous } : {}), ...(download ? { download } : {}) };
    }
    const failure = await watchHealth(deps, o.healthUrl, version, o.watchSeconds);
    if (failure) {
      if (previous) await store.rollback();
      throw new EdgecamError('UPDATE_ROLLED_BACK', `${version} was activated but ${failure}; ${previous ? `rolled back to ${previous}` : 'there was no previous version to roll back to'}. The update is kept in the store (\`edgecam model list\`).`);
    }
    return { version, activated: true, watched: 'healthy', ...(previous ? { previous } : {}), ...(download ? { download } : {}) };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function signatureText(value: string): Promise<string> {
  if (/^[A-Za-z0-9+/=\s]{80,}$/.test(value)) return value;
  return readFile(value, 'utf8').catch((err: Error) => { throw new EdgecamError('UPDATE_BAD_SIGNATURE', `cannot read the signature file ${value}: ${err.message}`); });
}

/** Run the model once, the way the daemon will (real preprocessing, ONNX Runtime): catches graphs that fail at run time. */
async function smoke(deps: InstallDeps, folder: ModelFolder, o: InstallOptions): Promise<void> {
  const image = await smokeImage(o);
  try {
    if (deps.smokeTest) await deps.smokeTest(folder, image);
    else await defaultSmokeTest(deps.logger, folder, image);
  } catch (err) {
    throw new EdgecamError('UPDATE_SMOKE_FAILED', `${folder.manifest.name} ${folder.manifest.version} failed its test run on a stored frame: ${errorMessage(err)}; it was not installed`, { cause: err });
  }
}

async function defaultSmokeTest(logger: Logger, folder: ModelFolder, image: Uint8Array): Promise<void> {
  const [{ createClassifier }, { preprocessImage }, { preprocessSpecOf }] = await Promise.all([import('../inference/engine.js'), import('../preprocess/image.js'), import('./manifest.js')]);
  const classifier = await createClassifier({ logger }, { folder, providers: ['cpu'], intraOpThreads: 1 });
  try {
    const out = await classifier.classify(await preprocessImage(image, preprocessSpecOf(folder.manifest)));
    const p = out.scores.probabilities;
    if (p.length !== folder.manifest.labels.length || p.some((v) => !Number.isFinite(v))) throw new Error(`it returned ${p.length} scores (${p.slice(0, 3).join(', ')}…) for ${folder.manifest.labels.length} labels`);
  } finally {
    await classifier.dispose();
  }
}

async function smokeImage(o: InstallOptions): Promise<Uint8Array> {
  if (o.smokeImage) return readFile(o.smokeImage);
  if (o.data) {
    const { listFrames } = await import('../collect/frames.js');
    const newest = (await listFrames(resolve(o.data))).at(-1);
    if (newest) return readFile(newest.image);
  }
  const sharp = (await import('sharp')).default;
  return sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 110, g: 120, b: 100 } } }).jpeg().toBuffer();
}

interface Health { status: number; version?: string }

async function health(deps: InstallDeps, url: string): Promise<Health | undefined> {
  try {
    const r = await (deps.fetch ?? fetch)(url, { signal: AbortSignal.timeout(3000) });
    const body = (await r.json().catch(() => ({}))) as { model?: { version?: string } | null };
    return { status: r.status, ...(body.model?.version ? { version: body.model.version } : {}) };
  } catch {
    return undefined;
  }
}

/** undefined when the daemon served `version` healthily until the end; else what went wrong. */
async function watchHealth(deps: InstallDeps, url: string, version: string, seconds: number): Promise<string | undefined> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const polls = Math.max(2, Math.ceil(seconds));
  let seenNew = false;
  let last: Health | undefined;
  for (let i = 0; i < polls; i++) {
    await sleep((seconds * 1000) / polls);
    last = await health(deps, url);
    if (!last) return `the daemon stopped answering at ${url}`;
    if (last.status !== 200) return `the daemon reported unhealthy (HTTP ${last.status}) at ${url}`;
    if (last.version === version) seenNew = true;
    else if (seenNew) return `the daemon went back to serving ${last.version}`;
  }
  if (!seenNew) return `the daemon still serves ${last?.version ?? 'an unknown version'} after ${seconds} s (is model.watch off, or did it refuse the model? see its log)`;
  return undefined;
}
