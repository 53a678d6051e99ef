import sharp from 'sharp';
import { TrainingError } from './errors.js';
import type { EpochLogs } from './train.js';

/**
 * Training charts drawn with vega-lite → vega (SVG renderer, headless) → PNG via sharp/librsvg.
 * vega's loader is replaced by one that refuses every request: all data is inline, and a chart must
 * never reach for the network (devices are often offline) or the filesystem.
 */

type VegaLiteSpec = Record<string, unknown>;

const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

const refusingLoader = {
  async load(uri: string): Promise<string> { throw new Error(`chart tried to load ${uri}; charts use inline data only`); },
  async sanitize(uri: string): Promise<{ href: string }> { throw new Error(`chart tried to load ${uri}; charts use inline data only`); },
  async http(uri: string): Promise<string> { throw new Error(`chart tried to fetch ${uri}`); },
  async file(path: string): Promise<string> { throw new Error(`chart tried to read ${path}`); },
};

/** Renders a vega-lite spec to PNG bytes. */
export async function renderVegaLitePng(spec: VegaLiteSpec, scale = 2): Promise<Buffer> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  try {
    const compiled = vl.compile({ ...spec, config: { font: FONT, ...(spec.config as object | undefined) } } as Parameters<typeof vl.compile>[0]).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader: refusingLoader as unknown as ReturnType<typeof vega.loader> });
    const svg = await view.toSVG(scale);
    view.finalize();
    return await sharp(Buffer.from(svg)).png().toBuffer();
  } catch (err) {
    throw new TrainingError('CHART_FAILED', `Could not draw a chart: ${(err as Error).message}`, { cause: err });
  }
}

/** Train/validation accuracy and loss per epoch, side by side, with the restored (best) epoch marked. */
export function curvesSpec(history: EpochLogs[], bestEpoch?: number, title = 'Training curves'): VegaLiteSpec {
  const rows = history.flatMap((h) => [
    { epoch: h.epoch, metric: 'accuracy', split: 'train', value: h.acc },
    { epoch: h.epoch, metric: 'loss', split: 'train', value: h.loss },
    ...(h.valAcc === null ? [] : [{ epoch: h.epoch, metric: 'accuracy', split: 'validation', value: h.valAcc }]),
    ...(h.valLoss === null ? [] : [{ epoch: h.epoch, metric: 'loss', split: 'validation', value: h.valLoss }]),
  ]);
  const panel = (metric: string) => ({
    title: metric === 'accuracy' ? 'Accuracy' : 'Loss (cross-entropy)',
    width: 360, height: 240,
    layer: [
      {
        transform: [{ filter: `datum.metric === '${metric}'` }],
        mark: { type: 'line', point: history.length <= 60 },
        encoding: {
          x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
          y: { field: 'value', type: 'quantitative', title: metric, scale: metric === 'accuracy' ? { domain: [0, 1] } : { zero: true } },
          color: { field: 'split', type: 'nominal', title: null, scale: { domain: ['train', 'validation'], range: ['#1f77b4', '#ff7f0e'] } },
        },
      },
      ...(bestEpoch ? [{ mark: { type: 'rule', strokeDash: [4, 3], color: '#555' }, data: { values: [{ epoch: bestEpoch }] }, encoding: { x: { field: 'epoch', type: 'quantitative' } } }] : []),
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: bestEpoch ? `${title} (dashed: restored epoch ${bestEpoch})` : title,
    data: { values: rows },
    hconcat: [panel('accuracy'), panel('loss')],
    background: 'white',
  };
}

/** Confusion matrix heat map: rows = true class, columns = predicted class, count in each cell. */
export function confusionSpec(labels: string[], matrix: number[][], title = 'Confusion matrix'): VegaLiteSpec {
  const rows = matrix.flatMap((r, i) => {
    const total = r.reduce((a, b) => a + b, 0) || 1;
    return r.map((count, j) => ({ actual: labels[i], predicted: labels[j], count, share: count / total }));
  });
  const side = Math.max(160, Math.min(640, labels.length * 70));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    width: side, height: side,
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: labels, title: 'predicted', axis: { labelAngle: 0 } },
      y: { field: 'actual', type: 'nominal', sort: labels, title: 'actual' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'share', type: 'quantitative', title: 'row share', scale: { scheme: 'blues', domain: [0, 1] } } } },
      { mark: { type: 'text', fontSize: 14 }, encoding: { text: { field: 'count', type: 'quantitative' }, color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' } } },
    ],
    background: 'white',
  };
}
