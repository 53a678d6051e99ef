import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeIssues, manifestSchema, preprocessSpecOf } from '../../src/models/manifest.js';
import { presetPreprocess, PRESET_NAMES } from '../../src/models/presets.js';

test('manifest placeholder parses minimal valid manifest', () => {
  const r = manifestSchema.safeParse({ name: 'x', version: '1', created: new Date().toISOString(), labels: ['a'],
    input: { name: 'in', shape: [-1, 3, 8, 8], layout: 'NCHW', channels: 3, colorOrder: 'RGB' },
    preprocess: { resize: 'squash', size: [8, 8], scale: 1 / 255 }, output: { name: 'out', kind: 'softmax' }, sha256: 'a'.repeat(64) });
  assert.equal(r.success, true, JSON.stringify(r.error?.issues));
});

/** A complete valid manifest; each case below changes one thing. */
function valid(): Record<string, any> {
  return {
    schemaVersion: 1, name: 'door', version: '2024.06.01+1', created: '2024-06-01T12:00:00.000Z', labels: ['open', 'closed'],
    input: { name: 'input', shape: [-1, 224, 224, 3], layout: 'NHWC', channels: 3, colorOrder: 'RGB', dtype: 'float32' },
    preprocess: { resize: 'shorter-side-then-center-crop', size: [224, 224], resizeShorterTo: 256, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], padColor: [0, 0, 0] },
    output: { name: 'probs', kind: 'softmax', embedding: { name: 'embedding', size: 1280 } },
    sha256: 'ab'.repeat(32),
    provenance: { dataset: 'door-2024', parentModel: 'door', parentVersion: '1', backbone: 'mobilenetv2-12-int8', backboneSha256: 'cd'.repeat(32), source: 'trained', command: 'edgecam train', datasetSummary: { open: 10, closed: 12 } },
    metrics: { accuracy: 0.97, confusion: [[1, 0], [0, 1]] },
  };
}

function issuesOf(edit: (m: Record<string, any>) => void): string[] {
  const m = valid();
  edit(m);
  const r = manifestSchema.safeParse(m);
  return r.success ? [] : describeIssues(r.error);
}

test('a complete manifest is valid and optional blocks get defaults', () => {
  assert.deepEqual(issuesOf(() => {}), []);
  const m = valid();
  for (const k of ['schemaVersion', 'provenance', 'metrics']) delete m[k];
  delete m.input.dtype;
  delete m.preprocess.mean; delete m.preprocess.std; delete m.preprocess.padColor;
  const parsed = manifestSchema.parse(m);
  assert.equal(parsed.schemaVersion, 1);
  assert.equal(parsed.input.dtype, 'float32');
  assert.deepEqual([parsed.preprocess.mean, parsed.preprocess.std, parsed.preprocess.padColor], [[0, 0, 0], [1, 1, 1], [0, 0, 0]]);
  assert.deepEqual([parsed.provenance, parsed.metrics], [{}, {}]);
  assert.deepEqual(preprocessSpecOf(parsed).layout, 'NHWC');
});

const badCases: [string, (m: Record<string, any>) => void, RegExp][] = [
  ['schemaVersion', (m) => { m.schemaVersion = 2; }, /^schemaVersion:/],
  ['name empty', (m) => { m.name = ''; }, /^name:/],
  ['name too long', (m) => { m.name = 'x'.repeat(101); }, /^name:/],
  ['version chars', (m) => { m.version = 'v 1/2'; }, /^version: version may contain/],
  ['version empty', (m) => { m.version = ''; }, /^version:/],
  ['created not ISO', (m) => { m.created = 'yesterday'; }, /^created:/],
  ['labels empty', (m) => { m.labels = []; }, /^labels:/],
  ['labels duplicate', (m) => { m.labels = ['a', 'a']; }, /^labels: labels must be unique/],
  ['label empty string', (m) => { m.labels = ['a', '']; }, /^labels\.1:/],
  ['input.name', (m) => { m.input.name = ''; }, /^input\.name:/],
  ['input.shape rank', (m) => { m.input.shape = [224, 224, 3]; }, /^input\.shape:/],
  ['input.shape non-integer', (m) => { m.input.shape = [-1, 224.5, 224, 3]; }, /^input\.shape\.1:/],
  ['input.shape channels', (m) => { m.input.shape = [-1, 224, 224, 1]; }, /^input\.shape: channel dimension is 1/],
  ['input.layout', (m) => { m.input.layout = 'HWC'; }, /^input\.layout:/],
  ['input.channels', (m) => { m.input.channels = 1; }, /^input\.channels:/],
  ['input.colorOrder', (m) => { m.input.colorOrder = 'GRB'; }, /^input\.colorOrder:/],
  ['input.dtype', (m) => { m.input.dtype = 'uint8'; }, /^input\.dtype:/],
  ['input unknown key', (m) => { m.input.mean = [1, 2, 3]; }, /^input:.*mean/],
  ['preprocess.resize', (m) => { m.preprocess.resize = 'stretch'; }, /^preprocess\.resize:/],
  ['preprocess.size mismatch', (m) => { m.preprocess.size = [256, 256]; m.preprocess.resizeShorterTo = 292; }, /^preprocess\.size: preprocess\.size \[256,256\] differs/],
  ['preprocess.size non-positive', (m) => { m.preprocess.size = [0, 224]; }, /^preprocess\.size\.0:/],
  ['preprocess.resizeShorterTo missing', (m) => { delete m.preprocess.resizeShorterTo; }, /^preprocess\.resizeShorterTo: required/],
  ['preprocess.scale', (m) => { m.preprocess.scale = 0; }, /^preprocess\.scale:/],
  ['preprocess.mean length', (m) => { m.preprocess.mean = [0.5, 0.5]; }, /^preprocess\.mean:/],
  ['preprocess.std zero', (m) => { m.preprocess.std = [1, 0, 1]; }, /^preprocess\.std: std values must be non-zero/],
  ['preprocess.padColor', (m) => { m.preprocess.padColor = 'black'; }, /^preprocess\.padColor:/],
  ['output.name', (m) => { m.output.name = ''; }, /^output\.name:/],
  ['output.kind', (m) => { m.output.kind = 'argmax'; }, /^output\.kind:/],
  ['output.embedding.size', (m) => { m.output.embedding.size = 0; }, /^output\.embedding\.size:/],
  ['output.embedding.name', (m) => { delete m.output.embedding.name; }, /^output\.embedding\.name:/],
  ['sha256 uppercase', (m) => { m.sha256 = 'AB'.repeat(32); }, /^sha256: sha256 must be 64 lowercase hex/],
  ['sha256 short', (m) => { m.sha256 = 'ab'; }, /^sha256:/],
  ['provenance.backboneSha256', (m) => { m.provenance.backboneSha256 = 'xyz'; }, /^provenance\.backboneSha256:/],
  ['provenance.datasetSummary', (m) => { m.provenance.datasetSummary = { open: 'ten' }; }, /^provenance\.datasetSummary\.open:/],
  ['provenance unknown key', (m) => { m.provenance.author = 'me'; }, /^provenance:.*author/],
  ['metrics not an object', (m) => { m.metrics = [1, 2]; }, /^metrics:/],
  ['unknown top-level key', (m) => { m.labelsFile = 'labels.txt'; }, /^\(root\):.*labelsFile/],
];

for (const [what, edit, want] of badCases) {
  test(`manifest rejects bad ${what}`, () => {
    const issues = issuesOf(edit);
    assert.ok(issues.some((i) => want.test(i)), `issues: ${JSON.stringify(issues)}`);
  });
}

test('every problem is reported at once', () => {
  const issues = issuesOf((m) => { m.name = ''; m.sha256 = 'x'; m.output.kind = 'argmax'; delete m.labels; });
  for (const field of ['name', 'sha256', 'output.kind', 'labels']) assert.ok(issues.some((i) => i.startsWith(`${field}:`)), `${field} in ${issues}`);
});

test('every preprocessing preset yields a valid manifest block in the (x·scale − mean)/std formula', () => {
  for (const name of PRESET_NAMES) {
    const preprocess = presetPreprocess(name, [224, 224]);
    assert.deepEqual(issuesOf((m) => { m.preprocess = preprocess; }), [], name);
  }
  const kerasMobilenet = presetPreprocess('keras-mobilenet', [96, 96]);
  const f = (x: number) => (x * kerasMobilenet.scale - kerasMobilenet.mean![0]!) / kerasMobilenet.std![0]!;
  assert.ok(Math.abs(f(0) + 1) < 1e-9 && Math.abs(f(255) - 1) < 1e-9, 'x/127.5 − 1 maps 0..255 to -1..1');
  const tv = presetPreprocess('torchvision', [224, 224]);
  assert.equal(tv.resizeShorterTo, 256);
  assert.ok(Math.abs((255 * tv.scale - tv.mean![0]!) / tv.std![0]! - (1 - 0.485) / 0.229) < 1e-9);
  assert.equal(presetPreprocess('teachable-machine', [224, 224]).resize, 'cover');
  assert.throws(() => presetPreprocess('caffe', [224, 224]), /keras, keras-mobilenet/);
});
