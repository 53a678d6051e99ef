import { z } from 'zod';

/**
 * The manifest is the single source of truth for how to feed a model and read its answer
 * (DESIGN.md convention 3). Training writes it, serving reads it; nothing else hard-codes 224 or ImageNet means.
 */

export const RESIZE_MODES = ['cover', 'contain', 'squash', 'shorter-side-then-center-crop'] as const;
export const OUTPUT_KINDS = ['softmax', 'sigmoid', 'logits', 'probabilities'] as const;

const positiveInt = z.number().int().positive();
const triple = z.array(z.number()).length(3);

export const inputSchema = z.object({
  name: z.string().min(1).describe('graph input tensor name'),
  /** Full tensor shape; the batch dimension may be -1 (dynamic). */
  shape: z.array(z.number().int()).length(4),
  layout: z.enum(['NCHW', 'NHWC']),
  channels: z.literal(3),
  colorOrder: z.enum(['RGB', 'BGR']),
  dtype: z.literal('float32').default('float32'),
}).strict();

export const preprocessSchema = z.object({
  resize: z.enum(RESIZE_MODES),
  /** [height, width] of the tensor the model consumes. */
  size: z.tuple([positiveInt, positiveInt]),
  /** Only for shorter-side-then-center-crop: the shorter side is resized to this before the centre crop. */
  resizeShorterTo: positiveInt.optional(),
  /** Pixel value (0..255) is multiplied by this first, e.g. 1/255. */
  scale: z.number().positive(),
  /** Then (x - mean) / std per channel, in the model's channel order as RGB-indexed values. */
  mean: triple.default([0, 0, 0]),
  std: triple.default([1, 1, 1]).refine((s) => s.every((v) => v !== 0), 'std values must be non-zero'),
  /** Background for `contain` padding, RGB 0..255. */
  padColor: triple.default([0, 0, 0]),
}).strict();

export const testTimeViewsSchema = z.object({
  scales: z.array(z.number().int().min(32).max(1024)).min(2).optional(),
  mirror: z.boolean().optional(),
  /** An ensemble: the outputs are the mean of this many networks (onnx/ensemble.ts). */
  members: z.number().int().min(2).optional(),
}).strict();
export type TestTimeViews = z.output<typeof testTimeViewsSchema>;

export const outputSchema = z.object({
  name: z.string().min(1).describe('graph output tensor with class scores'),
  kind: z.enum(OUTPUT_KINDS),
  /** Optional second output with a pooled embedding (backbones). */
  embedding: z.object({ name: z.string().min(1), size: positiveInt }).strict().optional(),
  /**
   * Test-time views the graph itself averages its outputs over (onnx/scales.ts, onnx/mirror.ts): informational,
   * since model.onnx does the work; the input size is the largest scale.
   */
  views: testTimeViewsSchema.optional(),
}).strict();

export const provenanceSchema = z.object({
  dataset: z.string().optional(),
  parentModel: z.string().optional(),
  parentVersion: z.string().optional(),
  backbone: z.string().optional(),
  backboneSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  source: z.string().optional(),
  command: z.string().optional(),
  datasetSummary: z.record(z.string(), z.number()).optional(),
}).strict();

export const manifestSchema = z.object({
  schemaVersion: z.literal(1).default(1),
  name: z.string().min(1).max(100),
  version: z.string().min(1).max(64).regex(/^[A-Za-z0-9._+-]+$/, 'version may contain letters, digits, . _ + - only'),
  created: z.iso.datetime({ offset: true }),
  labels: z.array(z.string().min(1).max(200)).min(1).refine((l) => new Set(l).size === l.length, 'labels must be unique'),
  input: inputSchema,
  preprocess: preprocessSchema,
  output: outputSchema,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits of model.onnx'),
  provenance: provenanceSchema.default({}),
  metrics: z.record(z.string(), z.unknown()).default({}),
}).strict().superRefine((m, ctx) => {
  const [, a, b, c] = m.input.shape;
  const [h, w] = m.input.layout === 'NCHW' ? [b, c] : [a, b];
  const ch = m.input.layout === 'NCHW' ? a : c;
  if (ch !== 3) ctx.addIssue({ code: 'custom', path: ['input', 'shape'], message: `channel dimension is ${ch}, expected 3 for layout ${m.input.layout}` });
  if ((h > 0 && h !== m.preprocess.size[0]) || (w > 0 && w !== m.preprocess.size[1])) {
    ctx.addIssue({ code: 'custom', path: ['preprocess', 'size'], message: `preprocess.size [${m.preprocess.size}] differs from input.shape spatial size [${h},${w}]` });
  }
  if (m.preprocess.resize === 'shorter-side-then-center-crop' && m.preprocess.resizeShorterTo === undefined) {
    ctx.addIssue({ code: 'custom', path: ['preprocess', 'resizeShorterTo'], message: 'required when resize is shorter-side-then-center-crop' });
  }
});

export type Manifest = z.output<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;
export type PreprocessSpec = Manifest['preprocess'] & { layout: Manifest['input']['layout']; colorOrder: Manifest['input']['colorOrder'] };

/** The preprocessing recipe the image pipeline needs: preprocess block plus the input's layout and colour order. */
export function preprocessSpecOf(m: Manifest): PreprocessSpec {
  return { ...m.preprocess, layout: m.input.layout, colorOrder: m.input.colorOrder };
}

/** Every validation problem, one line each, naming the field path. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}
