// Small statistics helpers shared by every scenario. Nothing here knows about caches.

/** Median of a list of numbers (the mean of the two middle values for an even count). */
export function median(values) {
  const xs = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/**
 * Percentile by the nearest-rank method on an already sorted array: p99 of 1,000 samples is
 * the 990th smallest, so it is always a value that was measured.
 */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** p50/p90/p99/max/mean/count of a list of samples (any unit). */
export function summarize(samples) {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/**
 * Reduces one object per run to one object of medians, field by field (numbers only; other
 * fields are taken from the first run). Nested objects are reduced recursively.
 */
export function medianOfRuns(runs) {
  const first = runs[0];
  if (first === undefined) return undefined;
  if (typeof first === 'number') return median(runs);
  if (first === null || typeof first !== 'object' || Array.isArray(first)) return first;
  const out = {};
  for (const key of Object.keys(first)) {
    out[key] = medianOfRuns(runs.map((r) => r?.[key]));
  }
  return out;
}

/** Nanoseconds (bigint) between two process.hrtime.bigint() readings, as microseconds. */
export function usBetween(t0, t1) {
  return Number(BigInt(t1) - BigInt(t0)) / 1000;
}

/**
 * `list` rotated left by `k`: run k measures the systems in a different order, so a burst of
 * load from elsewhere on the machine does not land on the same system in every run.
 */
export function rotated(list, k) {
  const n = k % list.length;
  return [...list.slice(n), ...list.slice(0, n)];
}
