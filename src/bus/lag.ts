/** Propagation lag of received invalidations, in milliseconds. */
export interface LagStats {
  /** Invalidation messages measured since the start. */
  count: number;
  /** Median over the last 1,024 messages. */
  p50: number;
  /** 99th percentile over the last 1,024 messages. */
  p99: number;
  /** Largest since the start. */
  max: number;
}

// How many recent lag samples the percentiles are computed over.
const WINDOW = 1024;

/**
 * Propagation lag statistics: from the sender's wall clock at sending to applied here.
 *
 * The percentiles cover the last 1,024 measurements (a ring), `max` every measurement since the start.
 * Wall clocks of two hosts can disagree; a negative lag says so and is kept at 0. Memory is fixed (one
 * array of 1,024 numbers). No I/O.
 */
export class Lag {
  readonly #samples = new Float64Array(WINDOW);
  #count = 0;
  #max = 0;

  /** Records the lag of a message sent at `sentAt` (the sender's `Date.now()`) and applied at `now` (ours). */
  record(sentAt: number, now: number): void {
    const lag = Math.max(0, now - sentAt);
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
