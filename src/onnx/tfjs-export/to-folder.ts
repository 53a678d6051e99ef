import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelError, errorMessage } from '../../errors.js';
import type { ManifestInput } from '../../models/manifest.js';
import { writeModelFolder, type ModelFolder } from '../../models/folder.js';
import { exportLayersModelToOnnx, type ExportResult } from '../tfjs-export.js';
import { finalActivation, firstLayer } from './graph.js';
import { loadLayersModelFromDir } from './model-dir.js';

/**
 * tfjs layers model folder → edgecam model folder (model.onnx + manifest.json), shared by
 * `edgecam export` and `edgecam import-tm`.
 */

/** Preprocessing for the model's input size [height, width] (e.g. `(size) => presetPreprocess('keras', size)`). */
export type PreprocessRecipe = (size: [number, number]) => ManifestInput['preprocess'];

export interface TfjsFolderExport {
  /** Folder with model.json and weight files. */
  modelDir: string;
  outDir: string;
  /** Class names in output order; when absent they are read from labels.txt or metadata.json next to model.json. */
  labels?: string[];
  preprocess: PreprocessRecipe;
  colorOrder?: 'RGB' | 'BGR';
  layout?: 'NHWC' | 'NCHW';
  name?: string;
  version?: string;
  provenance?: ManifestInput['provenance'];
  overwrite?: boolean;
  /** Spatial size for models whose input size is dynamic. */
  size?: [number, number];
  /** Told what the loaded model looks like before the manifest is built. */
  onModel?: (info: { startsWithRescaling: boolean; name: string }) => void;
  /** More files for the model folder (e.g. the original metadata.json), by file name. */
  extraFiles?: Record<string, Uint8Array | string>;
}

export interface TfjsFolderExportResult {
  folder: ModelFolder;
  export: ExportResult;
}

/** Labels from labels.txt (one per line) or a Teachable Machine metadata.json next to model.json. */
export async function labelsNextTo(dir: string): Promise<string[] | undefined> {
  const txt = await readFile(join(dir, 'labels.txt'), 'utf8').catch(() => undefined);
  if (txt !== undefined) return txt.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const meta = await readFile(join(dir, 'metadata.json'), 'utf8').catch(() => undefined);
  if (meta === undefined) return undefined;
  try {
    const labels = (JSON.parse(meta) as { labels?: unknown }).labels;
    return Array.isArray(labels) ? labels.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/** `--labels` value: a file with one label per line, or a comma-separated list. */
export async function readLabelsOption(spec: string): Promise<string[]> {
  const isFile = await stat(spec).then((s) => s.isFile(), () => false);
  const text = isFile ? await readFile(spec, 'utf8') : spec.split(',').join('\n');
  const labels = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length === 0) throw new ModelError('EXPORT_LABELS_MISSING', `--labels ${spec} holds no labels; pass a file with one label per line or a list like cat,dog`);
  return labels;
}

/** A version string the manifest accepts, from the current time: 20250102T030405Z. */
export function timestampVersion(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export async function exportTfjsFolder(o: TfjsFolderExport): Promise<TfjsFolderExportResult> {
  const tf = await import('@tensorflow/tfjs');
  await tf.ready();
  const modelDir = resolve(o.modelDir);
  const model = await loadLayersModelFromDir(tf, modelDir);
  try {
    const labels = o.labels ?? await labelsNextTo(modelDir);
    if (!labels || labels.length === 0) {
      throw new ModelError('EXPORT_LABELS_MISSING', `no class labels for ${modelDir}: pass --labels a,b,c (or a file with one label per line) in the model's output order`);
    }
    const inShape = model.inputs[0]?.shape ?? [];
    if (inShape.length !== 4 || inShape[3] !== 3) {
      throw new ModelError('EXPORT_NOT_IMAGE_MODEL', `${modelDir} takes input ${JSON.stringify(inShape)}; edgecam serves image classifiers with a [batch, height, width, 3] RGB input`);
    }
    const size: [number, number] = [inShape[1] ?? o.size?.[0] ?? 0, inShape[2] ?? o.size?.[1] ?? 0];
    if (size[0] <= 0 || size[1] <= 0) {
      throw new ModelError('EXPORT_DYNAMIC_SIZE', `${modelDir} accepts any image size; pass --size <height>x<width> to fix the size it is fed at`);
    }
    const units = model.outputs[0]?.shape.at(-1);
    const activation = finalActivation(model);
    const twoClass = units === 1 && labels.length === 2 && activation === 'sigmoid';
    if (!twoClass && units !== labels.length) {
      throw new ModelError('EXPORT_LABEL_COUNT', `${labels.length} labels given (${labels.join(', ')}) but the model outputs ${String(units)} scores; give exactly ${String(units)} labels in output order`);
    }
    o.onModel?.({ startsWithRescaling: firstLayer(model)?.getClassName() === 'Rescaling', name: model.name });
    const layout = o.layout ?? 'NHWC';
    const result = await exportLayersModelToOnnx(model, { layout, twoClassFromSigmoid: twoClass, ...(o.size ? { paritySize: o.size } : {}) });
    const now = new Date();
    const input = {
      name: result.inputName,
      shape: layout === 'NCHW' ? [-1, 3, size[0], size[1]] : [-1, size[0], size[1], 3],
      layout, channels: 3 as const, colorOrder: o.colorOrder ?? 'RGB',
    };
    // Softmax/sigmoid outputs are already scores: nothing is applied on top of them.
    const kind = activation === 'softmax' || activation === 'sigmoid' ? 'probabilities' as const : 'logits' as const;
    const folder = await writeModelFolder(o.outDir, {
      modelBytes: result.modelBytes,
      overwrite: o.overwrite,
      ...(o.extraFiles ? { extraFiles: o.extraFiles } : {}),
      manifest: {
        name: o.name ?? model.name,
        version: o.version ?? timestampVersion(now),
        created: now.toISOString(),
        labels,
        input,
        preprocess: { ...o.preprocess(size), size },
        output: { name: result.outputName, kind },
        provenance: { source: modelDir, ...o.provenance },
        metrics: { exportParityMaxAbsDiff: result.parityMaxAbsDiff },
      },
    });
    return { folder, export: result };
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError('EXPORT_FAILED', `exporting ${modelDir} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    model.dispose();
  }
}
