/** Propagation lag of received invalidations, in milliseconds. */
export interface LagStats {
  /** Invalidation messages measured since the start (implausible lags are not measured). */
  count: number;
  /** Median over the last 1,024 messages measured. */
  p50: number;
  /** 99th percentile over the last 1,024 messages measured. */
  p99: number;
  /** Largest measured since the start. */
  max: number;
}

// How many recent lag samples the percentiles are computed over.
const WINDOW = 1024;

/**
 * Longest lag taken as a measurement, in ms. Pub/sub delivers at once or never; even a receiver whose
 * event loop stalled reads a message within seconds. A longer lag says the sender's clock is wrong
 * (or the timestamp forged: one `ts: 1` would otherwise pin `max` at 57 years for good).
 */
export const MAX_PLAUSIBLE_LAG = 60_000;

/**
 * Propagation lag statistics: from the sender's wall clock at sending to applied here.
 *
 * The percentiles cover the last 1,024 measurements (a ring), `max` every measurement since the start.
 * A lag is measured only when plausible: from 0 to {@link MAX_PLAUSIBLE_LAG} ms. A negative one (the
 * sender's clock is ahead of ours) or a longer one is about clocks, not the bus: it is counted in
 * `implausible` and left out, so one bad clock or forged timestamp cannot pin the figures. Memory is
 * fixed (one array of 1,024 numbers). No I/O.
 */
export class Lag {
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;
  #max = 0;
  /** Lags left out as implausible (negative, or longer than {@link MAX_PLAUSIBLE_LAG}). */
  implausible = 0;

  /** Records the lag of a message sent at `sentAt` (the sender's `Date.now()`) and applied at `now` (ours). */
  record(sentAt: number, now: number): void {
    const lag = now - sentAt;
    if (!(lag >= 0 && lag <= MAX_PLAUSIBLE_LAG)) {
      this.implausible++;
      return;
    }
    this.#samples[this.#count++ % WINDOW] = lag;
    if (lag > this.#max) this.#max = lag;
  }

  /** Percentiles of the recent lag. */
  stats(): LagStats {
    const n = Math.min(this.#count, WINDOW);
    if (n === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))] as number;
    return { count: this.#count, p50: at(0.5), p99: at(0.99), max: this.#max };
  }
}
