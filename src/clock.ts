/**
 * A monotonic source of time in milliseconds, used to count down memory-tier lifetimes.
 * Inject one (option `clock`) to expire memory entries in tests without sleeping.
 * Store expiry is Keyv's business and follows `Date.now()`, as Keyv does.
 */
export interface Clock {
  now(): number;
}

/** The default clock: `performance.now()`. */
export const systemClock: Clock = performance;
