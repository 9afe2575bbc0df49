/** Stable error codes, for callers that branch on `error.code` rather than `instanceof`. */
export const ErrorCodes = {
  STORE: 'ERR_SYNCED_CACHE_STORE',
  CLOSED: 'ERR_SYNCED_CACHE_CLOSED',
  BUS: 'ERR_SYNCED_CACHE_BUS',
  MESSAGE: 'ERR_SYNCED_CACHE_MESSAGE',
} as const;

/** Base class of every error this library creates itself (input errors are plain `TypeError`/`RangeError`). */
export class SyncedCacheError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncedCacheError';
    this.code = code;
  }
}

/** The persistent store (L2) failed. The original error is kept as `cause`. */
export class StoreError extends SyncedCacheError {
  /** The store operation that failed: `get`, `set`, `delete`, `clear`, ... */
  readonly operation: string;
  /** The key, or keys, the operation was about, when there were any. */
  readonly key: string | readonly string[] | undefined;

  constructor(operation: string, key: string | readonly string[] | undefined, cause: unknown) {
    const about = key === undefined ? '' : Array.isArray(key) ? ` (${key.length} keys)` : ` for key ${JSON.stringify(key)}`;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`store ${operation}${about} failed: ${reason}`, ErrorCodes.STORE, { cause });
    this.name = 'StoreError';
    this.operation = operation;
    this.key = key;
  }
}

/** An operation was attempted after `close()`. */
export class CacheClosedError extends SyncedCacheError {
  constructor(operation: string) {
    super(`cannot call ${operation}(): the cache is closed`, ErrorCodes.CLOSED);
    this.name = 'CacheClosedError';
  }
}

/** The invalidation bus failed (connection lost, heartbeat timed out). Reported through the 'error' event only. */
export class BusError extends SyncedCacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ErrorCodes.BUS, options);
    this.name = 'BusError';
  }
}

/** A message on the bus channel was malformed, foreign or oversized and was ignored. Reported through the 'error' event only. */
export class InvalidMessageError extends SyncedCacheError {
  constructor(reason: string) {
    super(`ignored a bus message: ${reason}`, ErrorCodes.MESSAGE);
    this.name = 'InvalidMessageError';
  }
}
