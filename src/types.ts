/**
 * The plain values that flow between pipeline stages (see DESIGN.md "The loop").
 * capture ─Frame→ preprocess ─Tensor→ infer ─Scores→ postprocess ─Decision→ publish
 */

/** One encoded image from a capture source. */
export interface Frame {
  /** Encoded image bytes (JPEG from cameras; any format sharp reads from folders). */
  data: Buffer;
  /** Wall-clock capture time, ms since epoch (from the injected clock). */
  timestamp: number;
  /** Monotonic sequence number per source. */
  seq: number;
  /** Where it came from: a file path for folder replay, the source name otherwise. */
  origin?: string;
}

/** A dense float tensor ready for ONNX Runtime. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** The model's answer for one image, probabilities aligned with `labels`. */
export interface Scores {
  labels: string[];
  probabilities: number[];
}

/** Injected time source, so tests drive time instead of sleeping. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout | number;
  clearTimeout(handle: NodeJS.Timeout | number | undefined): void;
  setInterval(fn: () => void, ms: number): NodeJS.Timeout | number;
  clearInterval(handle: NodeJS.Timeout | number | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout | undefined),
};

/** Lifecycle every long-lived component follows (Zigbee2MQTT style): constructor assigns, start/stop do work. */
export interface Component {
  start(): Promise<void>;
  /** Safe to call twice; undoes what start() did. */
  stop(): Promise<void>;
}
