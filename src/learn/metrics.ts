/**
 * Classification metrics from (true label, predicted label) pairs: accuracy, confusion matrix and
 * per-class precision / recall / F1 (scikit-learn's definitions; 0 when a denominator is 0).
 */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Number of true examples of this class. */
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  n: number;
  labels: string[];
  /** confusion[actual][predicted] counts. */
  confusion: number[][];
  perClass: Record<string, ClassMetrics>;
  /** Unweighted mean of per-class F1. */
  macroF1: number;
}

export function confusionMatrix(actual: ArrayLike<number>, predicted: ArrayLike<number>, nClasses: number): number[][] {
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < actual.length; i++) m[actual[i]!]![predicted[i]!]! += 1;
  return m;
}

const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);

export function classificationReport(actual: ArrayLike<number>, predicted: ArrayLike<number>, labels: string[]): ClassificationReport {
  if (actual.length !== predicted.length) throw new Error(`classificationReport: ${actual.length} labels vs ${predicted.length} predictions`);
  const k = labels.length;
  const confusion = confusionMatrix(actual, predicted, k);
  const perClass: Record<string, ClassMetrics> = {};
  let correct = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    correct += tp;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = ratio(tp, predictedAs);
    const recall = ratio(tp, support);
    perClass[labels[c]!] = { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  }
  const n = actual.length;
  const macroF1 = k ? Object.values(perClass).reduce((a, m) => a + m.f1, 0) / k : 0;
  return { accuracy: ratio(correct, n), n, labels, confusion, perClass, macroF1 };
}

export interface Mistake {
  file: string;
  actual: string;
  predicted: string;
  /** Probability the model gave its (wrong) answer. */
  confidence: number;
}

/** The wrong answers the model was surest about: usually mislabelled files or a real blind spot. */
export function mostConfidentMistakes(files: string[], actual: ArrayLike<number>, predicted: ArrayLike<number>, confidence: ArrayLike<number>, labels: string[], limit = 10): Mistake[] {
  const out: Mistake[] = [];
  for (let i = 0; i < files.length; i++) {
    if (actual[i] !== predicted[i]) out.push({ file: files[i]!, actual: labels[actual[i]!]!, predicted: labels[predicted[i]!]!, confidence: confidence[i]! });
  }
  return out.sort((a, b) => b.confidence - a.confidence).slice(0, limit);
}

/** Human-readable report: accuracy line, per-class table, confusion matrix. */
export function formatReport(r: ClassificationReport, mistakes: Mistake[] = []): string {
  const w = Math.max(9, ...r.labels.map((l) => l.length)) + 2;
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`.padStart(8);
  const lines = [`accuracy ${(r.accuracy * 100).toFixed(2)}% on ${r.n} images (macro F1 ${r.macroF1.toFixed(3)})`, ''];
  lines.push(`${'class'.padEnd(w)}${'precision'.padStart(10)}${'recall'.padStart(8)}${'F1'.padStart(8)}${'n'.padStart(7)}`);
  for (const l of r.labels) {
    const m = r.perClass[l]!;
    lines.push(`${l.padEnd(w)}${pct(m.precision).padStart(10)}${pct(m.recall)}${m.f1.toFixed(3).padStart(8)}${String(m.support).padStart(7)}`);
  }
  lines.push('', `confusion (rows: actual, columns: predicted)`, `${''.padEnd(w)}${r.labels.map((l) => l.padStart(w)).join('')}`);
  r.confusion.forEach((row, i) => lines.push(`${r.labels[i]!.padEnd(w)}${row.map((c) => String(c).padStart(w)).join('')}`));
  if (mistakes.length) {
    lines.push('', 'most confidently wrong:');
    for (const m of mistakes) lines.push(`  ${(m.confidence * 100).toFixed(1).padStart(5)}%  ${m.predicted.padEnd(w)} (is ${m.actual})  ${m.file}`);
  }
  return lines.join('\n');
}
