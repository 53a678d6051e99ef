/**
 * Every error edgecam raises on purpose carries a stable `code` (for logs, exit codes and MQTT
 * responses) and a message that tells the user what to do next.
 */
export class EdgecamError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgecamError';
    this.code = code;
  }
}

/** A model folder, manifest or ONNX file is missing, broken or inconsistent. */
export class ModelError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ModelError';
  }
}

/** Configuration is invalid; `issues` lists every problem at once. */
export class ConfigError extends EdgecamError {
  readonly issues: string[];
  constructor(issues: string[]) {
    super('CONFIG_INVALID', `Invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** An input image could not be decoded or is unusable. */
export class ImageError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ImageError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
