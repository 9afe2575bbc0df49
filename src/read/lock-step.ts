import { withTimeout } from '../clock.js';
import { BusError } from '../errors.js';
import type { LockStep } from './get-or-set.js';
import type { KeyLock } from './lock.js';

/** The parts the lock step is built from. */
export interface LockStepParts<V> {
  lock: KeyLock;
  namespace: string;
  /** One store read of `k`: its fresh value, or undefined. */
  reread(k: string, key: string): Promise<V | undefined>;
  /** Resolves when another process changes `k` (its invalidation arrived). */
  watch(k: string): { promise: Promise<void>; cancel(): void };
  counts: { acquired: number; waited: number; tookOver: number };
  report(error: Error): void;
}

// First look at the store after this long without an invalidation, doubling up to the cap: a fallback
// for an invalidation that was lost (pub/sub is at most once).
const FIRST_POLL = 25;
const MAX_POLL = 500;

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * One loader call across processes. The process that takes the key's lock loads; the others wait, at
 * most `wait` ms, for its result: woken by its invalidation (then one store read), or by polling the
 * store with backoff when no invalidation comes. A waiter that takes the lock later (the holder died and
 * its lock expired, or it finished without storing anything) reads the store once more before it loads.
 * When `wait` runs out, the waiter loads itself; when the lock's Redis cannot be reached or does not
 * answer within what is left of the wait, the load runs without the lock. Bound: with a holder that dies, one waiter takes over after the lock's ttl.
 */
export class RedisLockStep<V> implements LockStep<V> {
  readonly #parts: LockStepParts<V>;

  constructor(parts: LockStepParts<V>) {
    this.#parts = parts;
  }

  async around(key: string, k: string, lock: { ttl: number; wait: number }, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const parts = this.#parts;
    const name = `synced-cache:lock:${parts.namespace}:${k}`;
    const deadline = performance.now() + lock.wait;
    let waited = false;
    let poll = FIRST_POLL;
    for (;;) {
      let token: string | undefined;
      try {
        // A lock server that does not answer (a blackholed connection) must not hold the call longer
        // than its wait: the load then runs without the lock.
        const left = Math.max(1, deadline - performance.now());
        token = await withTimeout(
          parts.lock.acquire(name, lock.ttl),
          left,
          () => new BusError(`the lock's Redis did not answer within ${Math.round(left)} ms`),
        );
      } catch (error) {
        parts.report(error as Error);
        if (waited) parts.counts.tookOver++;
        return load();
      }
      if (token !== undefined) {
        try {
          if (waited) {
            // The holder may have stored the value just before giving the lock up.
            const value = await parts.reread(k, key).catch(() => undefined);
            if (value !== undefined) {
              parts.counts.waited++;
              return value;
            }
            parts.counts.tookOver++;
          } else {
            parts.counts.acquired++;
          }
          return await load();
        } finally {
          parts.lock.release(name, token).catch((error: unknown) => parts.report(error as Error));
        }
      }
      waited = true;
      const left = deadline - performance.now();
      if (left <= 0) {
        parts.counts.tookOver++;
        return load();
      }
      const heard = parts.watch(k);
      const timer = delay(Math.min(poll, left));
      poll = Math.min(poll * 2, MAX_POLL);
      await Promise.race([heard.promise, timer.promise]);
      heard.cancel();
      timer.cancel();
      const value = await parts.reread(k, key).catch(() => undefined);
      if (value !== undefined) {
        parts.counts.waited++;
        return value;
      }
    }
  }
}
