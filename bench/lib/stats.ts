/** Pure helpers for turning repeated measurements into one figure per contender. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `value / baseline` to two decimals; null when there is no usable baseline (not measured, or zero). */
export function ratio(value: number, baseline: number | undefined): number | null {
  if (baseline === undefined || !Number.isFinite(baseline) || baseline <= 0 || !Number.isFinite(value))
    return null;
  return Math.round((value / baseline) * 100) / 100;
}

export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
