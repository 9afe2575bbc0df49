import { StoreError } from '../errors.js';

/** The store operations, as errors and traces name them. */
export type StoreOperation = 'get' | 'getMany' | 'set' | 'setMany' | 'delete' | 'deleteMany' | 'has' | 'clear' | 'iterate';

/**
 * The one call chain every store operation goes through, so that how a store call fails is decided in
 * one place: anything the adapter throws becomes a {@link StoreError} naming the operation and the key,
 * with the original error as `cause`. A `StoreError` says the store was (or may have been) reached: a
 * write that failed may still have landed, and the write path announces it all the same.
 */
export class StoreCalls {
  async run<T>(operation: StoreOperation, key: string | readonly string[] | undefined, call: () => Promise<T> | T): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw error instanceof StoreError ? error : new StoreError(operation, key, error);
    }
  }
}
