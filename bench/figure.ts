/**
 * One measured figure: always a subject against a baseline measured in the same run, because
 * the machines are shared and noisy; the ratio is what we report and compare.
 */
export interface BenchFigure {
  /** Which benchmark, e.g. "module-throughput/ema". */
  readonly bench: string;
  readonly subject: string;
  readonly baseline: string;
  readonly unit: string;
  readonly subjectValue: number;
  readonly baselineValue: number;
  /** subjectValue / baselineValue; say in `note` whether higher is better. */
  readonly ratio: number;
  readonly note?: string;
}

export function figure(f: Omit<BenchFigure, 'ratio'>): BenchFigure {
  return { ...f, ratio: f.baselineValue === 0 ? Number.NaN : f.subjectValue / f.baselineValue };
}

/** Median of a sample (the upper one for an even count); robust to the odd slow run on a shared machine. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
