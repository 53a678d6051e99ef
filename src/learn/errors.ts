import { EdgecamError } from '../errors.js';

/** A training or evaluation dataset folder is missing, empty or inconsistent. */
export class DatasetError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DatasetError';
  }
}

/** Training could not run or produced an unusable model (bad options, NaN loss, export failure). */
export class TrainingError extends EdgecamError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'TrainingError';
  }
}
