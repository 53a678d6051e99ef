import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { ModelError, errorMessage } from '../../errors.js';

/**
 * Read and write tfjs layers-model folders (model.json + weight shards) in Node without tfjs-node:
 * tfjs' own `file://` handler only exists in tfjs-node, which cannot install offline (FIELD-NOTES).
 */

type Tf = typeof tfTypes;
type ModelJSON = tfTypes.io.ModelJSON;
type WeightsManifestConfig = tfTypes.io.WeightsManifestConfig;

/** A weight shard path from model.json must stay inside the model folder. */
function shardPath(dir: string, path: string): string {
  const clean = normalize(decodeURIComponent(path));
  if (isAbsolute(clean) || clean === '..' || clean.startsWith(`..${sep}`)) {
    throw new ModelError('TFJS_MODEL_INVALID', `model.json names weight file "${path}" outside its folder; only files next to model.json are read`);
  }
  return join(dir, clean);
}

async function readModelJson(dir: string): Promise<ModelJSON> {
  const file = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ModelError('TFJS_MODEL_MISSING', `cannot read ${file}: ${errorMessage(err)}; point at a folder holding a tfjs layers model (model.json + weight files)`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelError('TFJS_MODEL_INVALID', `${file} is not valid JSON (${errorMessage(err)}); re-export the model`, { cause: err });
  }
  const m = json as Partial<ModelJSON> & { format?: string };
  if (!m || typeof m !== 'object' || !m.modelTopology || !Array.isArray(m.weightsManifest)) {
    throw new ModelError('TFJS_MODEL_INVALID', `${file} lacks modelTopology or weightsManifest; it must be a tfjs layers model (tf.LayersModel.save output)`);
  }
  if (m.format === 'graph-model') {
    throw new ModelError('TFJS_GRAPH_MODEL', `${file} is a tfjs graph model; only layers models (Keras-style, as Teachable Machine and tf.LayersModel.save write) can be exported`);
  }
  return m as ModelJSON;
}

/** An IOHandler that loads `<dir>/model.json` and the weight shards it lists. */
export function dirLoadHandler(tf: Tf, dir: string): tfTypes.io.IOHandler {
  return {
    load: async () => {
      const modelJson = await readModelJson(dir);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest: WeightsManifestConfig) => {
        const specs = manifest.flatMap((group) => group.weights);
        const buffers: Buffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const file = shardPath(dir, p);
            try {
              buffers.push(await readFile(file));
            } catch (err) {
              throw new ModelError('TFJS_WEIGHTS_MISSING', `cannot read weight file ${file} listed in model.json: ${errorMessage(err)}; copy every file of the export`, { cause: err });
            }
          }
        }
        const all = Buffer.concat(buffers);
        const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
        return [specs, data];
      });
    },
  };
}

/** Load a tfjs layers model from a folder. */
export async function loadLayersModelFromDir(tf: Tf, dir: string): Promise<tfTypes.LayersModel> {
  try {
    return await tf.loadLayersModel(dirLoadHandler(tf, dir));
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw new ModelError('TFJS_MODEL_INVALID', `tfjs could not build the model in ${dir}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Save a tfjs layers model as `<dir>/model.json` + `<dir>/weights.bin` (one shard, like Teachable Machine). */
export async function saveLayersModelToDir(model: tfTypes.LayersModel, dir: string, tf: Tf): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0)
      : Array.isArray(artifacts.weightData) ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : artifacts.weightData;
    const modelJson = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
    };
    await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
    await writeFile(join(dir, 'weights.bin'), new Uint8Array(weightData));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightData.byteLength } };
  }));
}
