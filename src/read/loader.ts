import { withTimeout } from '../clock.js';
import { LoaderTimeoutError } from '../errors.js';
import type { LoaderContext } from '../types.js';

/** A getOrSet loader: given the key and `{ signal, stale }`, returns the value (or undefined: nothing to store). */
export type Loader<V> = (key: string, context: LoaderContext<V>) => V | undefined | Promise<V | undefined>;

/**
 * Calls `loader` once: a loader that throws synchronously is one that rejects; past `hardTimeout` its
 * signal is aborted and the call rejects with {@link LoaderTimeoutError} (what the loader does after
 * that is ignored).
 */
export function runLoader<V>(
  loader: Loader<V>,
  key: string,
  stale: V | undefined,
  hardTimeout: number | undefined,
  controller: AbortController,
): Promise<V | undefined> {
  let call: Promise<V | undefined>;
  try {
    call = Promise.resolve(loader(key, { signal: controller.signal, stale }));
  } catch (error) {
    call = Promise.reject(error);
  }
  if (hardTimeout === undefined) return call;
  // Kept alive: a caller waits for this answer, and a loader that holds nothing open (a promise that
  // never settles) would otherwise let the process end before the timeout.
  return withTimeout(
    call,
    hardTimeout,
    () => {
      const error = new LoaderTimeoutError(key, hardTimeout);
      controller.abort(error);
      return error;
    },
    true,
  );
}

/** Resolves to `SOFT` after `ms`, without keeping the process alive. */
export const SOFT: unique symbol = Symbol('synced-cache: soft timeout');

export function softDeadline(ms: number): { promise: Promise<typeof SOFT>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<typeof SOFT>((resolve) => {
    timer = setTimeout(() => resolve(SOFT), ms);
    timer.unref();
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
