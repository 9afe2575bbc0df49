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

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `ms` milliseconds have passed first.
 * `ms <= 0` or not finite: no limit. The timer keeps the process alive only with `keepAlive` (a caller is
 * waiting for the answer), and is cleared as soon as `promise` settles. `promise` itself goes on: a timed-out call may still land (callers decide what that means).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error, keepAlive = false): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    if (!keepAlive) timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
