import { withTimeout } from '../clock.js';
import { StoreError, StoreTimeoutError, StoreUnavailableError } from '../errors.js';
import type { Breaker } from './breaker.js';

/** The store operations, as errors and traces name them. */
export type StoreOperation = 'get' | 'getMany' | 'set' | 'setMany' | 'delete' | 'deleteMany' | 'has' | 'clear' | 'iterate';

export interface StoreCallOptions {
  /** Milliseconds a store call may take before the caller gets a {@link StoreTimeoutError}; 0: no limit. */
  timeout: number;
  /** The circuit breaker, when one is configured. */
  breaker: Breaker | undefined;
}

// The call behind a StoreTimeoutError goes on (an adapter call cannot be cancelled); the write path
// waits for it to settle, since a write may land then.
const stillRunning = new WeakMap<StoreTimeoutError, Promise<unknown>>();

/** For an error a store call timed out with: settles when the call itself finally settles (or never). */
export function lateSettlement(error: unknown): Promise<unknown> | undefined {
  return error instanceof StoreTimeoutError ? stillRunning.get(error) : undefined;
}

/** True unless the error says the store was never reached (the breaker was open): then there is nothing to announce. */
export function mayHaveReachedStore(error: unknown): boolean {
  return !(error instanceof StoreUnavailableError);
}

/**
 * The one call chain every store operation goes through, so that how a store call fails is decided in
 * one place: breaker open -> {@link StoreUnavailableError} (the store was not reached); past the
 * timeout -> {@link StoreTimeoutError} (the call goes on and may still land); anything the adapter
 * throws -> {@link StoreError} naming the operation and the key, the original error as `cause`.
 * Failures and timeouts count against the breaker; a success resets it.
 */
export class StoreCalls {
  readonly #options: StoreCallOptions;

  constructor(options: StoreCallOptions = { timeout: 0, breaker: undefined }) {
    this.#options = options;
  }

  async run<T>(operation: StoreOperation, key: string | readonly string[] | undefined, call: () => Promise<T> | T): Promise<T> {
    const { breaker, timeout } = this.#options;
    const admitted = breaker?.admit();
    if (breaker !== undefined && admitted === undefined) throw new StoreUnavailableError(operation, key);
    let running: Promise<T>;
    try {
      running = Promise.resolve(call());
    } catch (error) {
      running = Promise.reject(error);
    }
    try {
      const result = await withTimeout(running, timeout, () => {
        const error = new StoreTimeoutError(operation, key, timeout);
        stillRunning.set(
          error,
          running.then(
            () => undefined,
            () => undefined,
          ),
        );
        return error;
      });
      if (admitted !== undefined) breaker?.succeeded(admitted);
      return result;
    } catch (error) {
      if (admitted !== undefined) breaker?.failed(admitted);
      throw error instanceof StoreError ? error : new StoreError(operation, key, error);
    }
  }
}
