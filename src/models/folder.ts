import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ModelError, errorMessage } from '../errors.js';
import { describeOnnx, parseOnnx, type TensorInfo } from '../onnx/proto.js';
import type { ModelProto } from '../onnx/tensor.js';
import { describeIssues, manifestSchema, type Manifest, type ManifestInput } from './manifest.js';
import { sha256Hex } from './sha256.js';
import { fsyncDir, writeFileSynced } from '../durable-fs.js';

export { sha256Hex };

/**
 * A model folder: model.onnx + manifest.json (+ labels.txt, README.md, metrics, plots).
 * Loading checks the manifest against its schema AND against the graph, so a folder that lies
 * (wrong input name or size, label count, checksum) is rejected before serving, naming field and fix.
 */
export interface ModelFolder {
  dir: string;
  manifest: Manifest;
  modelBytes: Uint8Array;
}

export const MODEL_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';
export const LABELS_FILE = 'labels.txt';

export async function loadModelFolder(dir: string): Promise<ModelFolder> {
  const abs = resolve(dir);
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new ModelError('MODEL_FOLDER_NOT_FOUND', `model folder ${abs} ${st ? 'is not a directory' : 'does not exist'}; pass a folder holding model.onnx and manifest.json (create one with \`edgecam model wrap\`)`);
  }
  const manifestText = await readFile(join(abs, MANIFEST_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      throw new ModelError('MODEL_MANIFEST_MISSING', `${join(abs, MANIFEST_FILE)} is missing; create it with \`edgecam model wrap ${join(abs, MODEL_FILE)} --labels <file|a,b,c> --out <dir>\``);
    }
    throw new ModelError('MODEL_MANIFEST_UNREADABLE', `cannot read ${join(abs, MANIFEST_FILE)}: ${errorMessage(err)}`, { cause: err });
  });
  const modelBytes = await readFile(join(abs, MODEL_FILE)).catch((err: NodeJS.ErrnoException) => {
    throw new ModelError(err.code === 'ENOENT' ? 'MODEL_ONNX_MISSING' : 'MODEL_ONNX_UNREADABLE',
      err.code === 'ENOENT' ? `${join(abs, MODEL_FILE)} is missing; copy the model file into the folder (it must be named ${MODEL_FILE})` : `cannot read ${join(abs, MODEL_FILE)}: ${errorMessage(err)}`, { cause: err });
  });
  const manifest = parseManifestText(manifestText, join(abs, MANIFEST_FILE));
  const bytes = new Uint8Array(modelBytes.buffer, modelBytes.byteOffset, modelBytes.byteLength);
  const model = parseOnnx(bytes, join(abs, MODEL_FILE));
  assertManifestMatchesModel(manifest, model, bytes, abs);
  return { dir: abs, manifest, modelBytes: bytes };
}

/** Parse and validate manifest.json text; every schema issue is listed. */
export function parseManifestText(text: string, source = MANIFEST_FILE): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelError('MODEL_MANIFEST_UNPARSABLE', `${source} is not valid JSON (${errorMessage(err)}); fix the syntax or regenerate it with \`edgecam model wrap\``, { cause: err });
  }
  return validateManifest(json, source);
}

export function validateManifest(json: unknown, source = MANIFEST_FILE): Manifest {
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const issues = describeIssues(r.error);
    throw new ModelError('MODEL_MANIFEST_INVALID', `${source} is invalid; fix these fields:\n  - ${issues.join('\n  - ')}`);
  }
  return r.data;
}

/** Every way the manifest disagrees with the graph, one line each naming the field and the fix. */
export function manifestMismatches(m: Manifest, model: ModelProto, modelBytes?: Uint8Array): string[] {
  const d = describeOnnx(model);
  const problems: string[] = [];
  if (modelBytes) {
    const actual = sha256Hex(modelBytes);
    if (actual !== m.sha256) problems.push(`sha256: manifest says ${m.sha256} but model.onnx hashes to ${actual}; the model file was changed or corrupted (copy it again, or set sha256 to ${actual} if the new file is intended)`);
  }
  const input = d.inputs.find((i) => i.name === m.input.name);
  if (!input) {
    problems.push(`input.name: "${m.input.name}" is not a graph input (graph inputs: ${d.inputs.map((i) => `"${i.name}"`).join(', ') || 'none'}); set input.name to one of them`);
  } else {
    problems.push(...inputShapeMismatches(m, input));
  }
  const output = d.outputs.find((o) => o.name === m.output.name);
  if (!output) {
    problems.push(`output.name: "${m.output.name}" is not a graph output (graph outputs: ${d.outputs.map((o) => `"${o.name}"`).join(', ')}); set output.name to one of them`);
  } else {
    const width = output.shape[output.shape.length - 1];
    if (typeof width === 'number' && width !== m.labels.length) {
      problems.push(`labels: ${m.labels.length} labels but output "${output.name}" has ${width} classes; give exactly ${width} labels in the model's class order`);
    }
  }
  if (m.output.embedding) {
    const e = d.outputs.find((o) => o.name === m.output.embedding!.name);
    if (!e) {
      problems.push(`output.embedding.name: "${m.output.embedding.name}" is not a graph output; expose it with \`edgecam backbone prepare\` or remove output.embedding`);
    } else {
      const size = e.shape[e.shape.length - 1];
      if (typeof size === 'number' && size !== m.output.embedding.size) {
        problems.push(`output.embedding.size: manifest says ${m.output.embedding.size} but "${e.name}" has ${size} values; set it to ${size}`);
      }
    }
  }
  return problems;
}

function inputShapeMismatches(m: Manifest, input: TensorInfo): string[] {
  const problems: string[] = [];
  if (input.elemType !== 'float32') problems.push(`input.dtype: graph input "${input.name}" is ${input.elemType}; edgecam feeds float32 tensors only`);
  if (input.shape.length !== 4) {
    return [...problems, `input.shape: graph input "${input.name}" has rank ${input.shape.length} [${input.shape.join(',')}]; edgecam needs a 4-D image tensor`];
  }
  const graphLayout = input.shape[3] === 3 ? 'NHWC' : input.shape[1] === 3 ? 'NCHW' : undefined;
  if (graphLayout && graphLayout !== m.input.layout) {
    problems.push(`input.layout: manifest says ${m.input.layout} but graph input [${input.shape.join(',')}] is ${graphLayout}; set layout to ${graphLayout} and shape accordingly`);
  }
  input.shape.forEach((g, i) => {
    const mine = m.input.shape[i]!;
    if (typeof g === 'number' && g > 0 && mine > 0 && g !== mine) {
      problems.push(`input.shape[${i}]: manifest says ${mine} but the graph has ${g} (graph shape [${input.shape.join(',')}]); set input.shape to [${input.shape.map((x) => (typeof x === 'number' ? x : -1)).join(',')}] and preprocess.size to match`);
    }
    if (typeof g === 'number' && g > 0 && mine <= 0 && i > 0) {
      problems.push(`input.shape[${i}]: manifest says dynamic (${mine}) but the graph fixes it to ${g}; set it to ${g}`);
    }
  });
  return problems;
}

export function assertManifestMatchesModel(m: Manifest, model: ModelProto, modelBytes: Uint8Array | undefined, where: string): void {
  const problems = manifestMismatches(m, model, modelBytes);
  if (problems.length > 0) {
    throw new ModelError('MODEL_MANIFEST_MISMATCH', `manifest.json in ${where} disagrees with model.onnx:\n  - ${problems.join('\n  - ')}`);
  }
}

export interface WriteModelFolderOptions {
  modelBytes: Uint8Array;
  /** sha256 is computed here; any value given is replaced. */
  manifest: Omit<ManifestInput, 'sha256'> & { sha256?: string };
  /** More files to write into the folder (README.md, metrics.json, plots…), by file name. */
  extraFiles?: Record<string, Uint8Array | string>;
  /** Replace an existing non-empty folder. */
  overwrite?: boolean;
}

/**
 * Write a complete model folder atomically: everything goes into a temporary sibling directory
 * (files fsynced), which is then renamed into place, so a reader never sees half a model.
 */
/**
 * Refuses a non-empty `dir` unless `overwrite`. Long jobs (training) call it before they start, so an hour of work
 * is not thrown away at the end for a folder name.
 */
export async function assertModelFolderWritable(dir: string, overwrite = false): Promise<void> {
  const abs = resolve(dir);
  const existing = await stat(abs).catch(() => undefined);
  const nonEmpty = existing ? await readdir(abs).then((f) => f.length > 0, () => true) : false;
  if (nonEmpty && !overwrite) {
    throw new ModelError('MODEL_FOLDER_EXISTS', `${abs} already exists and is not empty; choose another output folder or pass --force to replace it`);
  }
}

export async function writeModelFolder(dir: string, opts: WriteModelFolderOptions): Promise<ModelFolder> {
  const abs = resolve(dir);
  const manifest = validateManifest({ ...opts.manifest, sha256: sha256Hex(opts.modelBytes) }, `manifest for ${abs}`);
  assertManifestMatchesModel(manifest, parseOnnx(opts.modelBytes, 'model.onnx'), undefined, abs);
  for (const name of Object.keys(opts.extraFiles ?? {})) {
    if (name !== basename(name) || name === '.' || name === '..' || name.startsWith('.')) {
      throw new ModelError('MODEL_FOLDER_BAD_FILE', `extra file name "${name}" must be a plain file name inside the folder`);
    }
  }
  await assertModelFolderWritable(abs, opts.overwrite);
  const existing = await stat(abs).catch(() => undefined);
  await mkdir(dirname(abs), { recursive: true });
  const tmp = join(dirname(abs), `.${basename(abs)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const files: Record<string, Uint8Array | string> = {
      ...opts.extraFiles,
      [MODEL_FILE]: opts.modelBytes,
      [MANIFEST_FILE]: `${JSON.stringify(manifest, null, 2)}\n`,
      [LABELS_FILE]: `${manifest.labels.join('\n')}\n`,
    };
    for (const [name, content] of Object.entries(files)) await writeFileSynced(join(tmp, name), content);
    await fsyncDir(tmp);
    if (existing) {
      const old = `${tmp}.old`;
      await rename(abs, old);
      await rename(tmp, abs);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, abs);
    }
    await fsyncDir(dirname(abs));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (err instanceof ModelError) throw err;
    throw new ModelError('MODEL_FOLDER_WRITE_FAILED', `could not write model folder ${abs}: ${errorMessage(err)}; check free space and permissions`, { cause: err });
  }
  return { dir: abs, manifest, modelBytes: opts.modelBytes };
}


