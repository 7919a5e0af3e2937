/**
 * Whether a per-minute series grows: the least-squares slope over the minutes, relative to the
 * series' mean, and whether it is within noise, i.e. not told apart from zero by twice its
 * standard error (about 95%) given how much the samples scatter around the fitted line.
 */
export interface Trend {
  /** Units per minute. */
  readonly slope: number;
  readonly mean: number;
  /** slope / mean: the share of the mean gained (or lost) per minute. */
  readonly relativePerMinute: number;
  /** Standard error of the slope; undefined below 3 samples (no scatter to judge by). */
  readonly slopeError: number | undefined;
  readonly withinNoise: boolean | undefined;
}

export function trendOf(minutes: readonly number[], values: readonly number[]): Trend {
  const n = values.length;
  const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(1, n);
  if (n < 2) return { slope: 0, mean, relativePerMinute: 0, slopeError: undefined, withinNoise: undefined };
  const meanX = minutes.reduce((sum, x) => sum + x, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (minutes[i]! - meanX) ** 2;
    sxy += (minutes[i]! - meanX) * (values[i]! - mean);
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const relativePerMinute = mean === 0 ? 0 : slope / mean;
  if (n < 3 || sxx === 0) return { slope, mean, relativePerMinute, slopeError: undefined, withinNoise: undefined };
  let residuals = 0;
  for (let i = 0; i < n; i++) residuals += (values[i]! - (mean + slope * (minutes[i]! - meanX))) ** 2;
  const slopeError = Math.sqrt(residuals / (n - 2) / sxx);
  return { slope, mean, relativePerMinute, slopeError, withinNoise: Math.abs(slope) <= 2 * slopeError };
}

/** The verdict in words, e.g. "flat: +0.02 MiB/min (+0.01%/min) within noise (±0.05)". */
export function verdictOf(trend: Trend, unit: string): string {
  const signed = (v: number, digits: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
  const figure = `${signed(trend.slope, 3)} ${unit}/min (${signed(trend.relativePerMinute * 100, 3)}% of the mean per minute)`;
  if (trend.withinNoise === undefined) return `${figure}; too few samples to judge`;
  const band = `2 standard errors: ±${(2 * trend.slopeError!).toFixed(3)}`;
  if (trend.withinNoise) return `flat: ${figure}, within noise (${band})`;
  return `${trend.slope > 0 ? 'GROWING' : 'shrinking'}: ${figure}, beyond noise (${band})`;
}
