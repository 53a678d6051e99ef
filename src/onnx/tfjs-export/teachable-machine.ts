import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelError, errorMessage } from '../../errors.js';
import { presetPreprocess } from '../../models/presets.js';
import { exportTfjsFolder, timestampVersion, type TfjsFolderExportResult } from './to-folder.js';

/**
 * Teachable Machine image exports (model.json + weights.bin + metadata.json) → model folder.
 * TM feeds a centre square crop of the camera image at imageSize (224), scaled to x/127.5 − 1
 * (the 'teachable-machine' preset; TM's own tfjs helper divides by 127, a difference below 0.008).
 */

/** The metadata.json fields Teachable Machine writes (@teachablemachine/image Metadata). */
export interface TmMetadata {
  tfjsVersion?: string;
  tmVersion?: string;
  packageVersion?: string;
  packageName?: string;
  modelName?: string;
  timeStamp?: string;
  labels: string[];
  userMetadata?: unknown;
  grayscale?: boolean;
  imageSize?: number;
}

export async function readTmMetadata(dir: string): Promise<TmMetadata> {
  const file = join(dir, 'metadata.json');
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ModelError('TM_METADATA_MISSING', `cannot read ${file} (${errorMessage(err)}); a Teachable Machine export has model.json, weights.bin and metadata.json: download it again with "Export Model → Tensorflow.js → Download"`, { cause: err });
  }
  const m = json as Partial<TmMetadata>;
  if (!m || !Array.isArray(m.labels) || m.labels.length === 0 || !m.labels.every((l) => typeof l === 'string' && l.length > 0)) {
    throw new ModelError('TM_METADATA_INVALID', `${file} has no "labels" list of class names; it is not a Teachable Machine image export`);
  }
  if (m.grayscale === true) {
    throw new ModelError('TM_GRAYSCALE', `${file} describes a grayscale Teachable Machine model; edgecam feeds RGB images, train the project in colour`);
  }
  if (m.imageSize !== undefined && (!Number.isInteger(m.imageSize) || m.imageSize <= 0)) {
    throw new ModelError('TM_METADATA_INVALID', `${file} has imageSize ${JSON.stringify(m.imageSize)}; expected a positive integer such as 224`);
  }
  return m as TmMetadata;
}

/** A manifest-safe model name from TM's modelName. */
function modelNameOf(meta: TmMetadata): string {
  const name = (meta.modelName ?? '').trim().slice(0, 100);
  return name.length > 0 && name !== 'untitled' ? name : 'teachable-machine';
}

export interface ImportTmOptions {
  dir: string;
  outDir: string;
  name?: string;
  overwrite?: boolean;
  command?: string;
}

export async function importTeachableMachine(o: ImportTmOptions): Promise<TfjsFolderExportResult & { metadata: TmMetadata }> {
  const dir = resolve(o.dir);
  const metadata = await readTmMetadata(dir);
  const stamp = metadata.timeStamp ? new Date(metadata.timeStamp) : undefined;
  const result = await exportTfjsFolder({
    modelDir: dir,
    outDir: o.outDir,
    labels: metadata.labels,
    preprocess: (size) => {
      if (metadata.imageSize !== undefined && (size[0] !== metadata.imageSize || size[1] !== metadata.imageSize)) {
        throw new ModelError('TM_SIZE_MISMATCH', `metadata.json says imageSize ${metadata.imageSize} but the model takes ${size[0]}×${size[1]}; the export is inconsistent, download it again`);
      }
      return presetPreprocess('teachable-machine', size);
    },
    name: o.name ?? modelNameOf(metadata),
    ...(stamp && !Number.isNaN(stamp.getTime()) ? { version: timestampVersion(stamp) } : {}),
    provenance: {
      source: `teachable-machine ${metadata.packageName ?? '@teachablemachine/image'}@${metadata.packageVersion ?? '?'} (tfjs ${metadata.tfjsVersion ?? '?'}) from ${dir}`,
      backbone: 'MobileNet (Teachable Machine)',
      ...(o.command ? { command: o.command } : {}),
    },
    extraFiles: { 'tm-metadata.json': `${JSON.stringify(metadata, null, 2)}\n` },
    ...(o.overwrite ? { overwrite: true } : {}),
  });
  return { ...result, metadata };
}
