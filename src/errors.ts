import { quote } from './check.js';

/** Stable error codes, for callers that branch on `error.code` rather than `instanceof`. */
export const ErrorCodes = {
  STORE: 'ERR_SYNCED_CACHE_STORE',
  STORE_TIMEOUT: 'ERR_SYNCED_CACHE_STORE_TIMEOUT',
  STORE_UNAVAILABLE: 'ERR_SYNCED_CACHE_STORE_UNAVAILABLE',
  LOADER_TIMEOUT: 'ERR_SYNCED_CACHE_LOADER_TIMEOUT',
  CLOSED: 'ERR_SYNCED_CACHE_CLOSED',
  BUS: 'ERR_SYNCED_CACHE_BUS',
  MESSAGE: 'ERR_SYNCED_CACHE_MESSAGE',
  KEY_EXISTS: 'ERR_SYNCED_CACHE_KEY_EXISTS',
  DECRYPT: 'ERR_SYNCED_CACHE_DECRYPT',
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

function about(key: string | readonly string[] | undefined): string {
  return key === undefined ? '' : Array.isArray(key) ? ` (${key.length} keys)` : ` for key ${JSON.stringify(key)}`;
}

/**
 * The persistent store (L2) failed, or may have: a write that failed may still have landed, so it is
 * announced to the other processes all the same. The original error is kept as `cause`.
 */
export class StoreError extends SyncedCacheError {
  /** The store operation that failed: `get`, `set`, `delete`, `clear`, ... */
  readonly operation: string;
  /** The key, or keys, the operation was about, when there were any. */
  readonly key: string | readonly string[] | undefined;

  constructor(
    operation: string,
    key: string | readonly string[] | undefined,
    cause: unknown,
    message?: string,
    code: string = ErrorCodes.STORE,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(message ?? `store ${operation}${about(key)} failed: ${reason}`, code, cause === undefined ? undefined : { cause });
    this.name = 'StoreError';
    this.operation = operation;
    this.key = key;
  }
}

/**
 * A store call took longer than `storeTimeout`. It was not cancelled (Keyv adapters cannot be), so a
 * write may still land later: the cache announces it again when it does.
 */
export class StoreTimeoutError extends StoreError {
  /** The limit that was passed, in milliseconds. */
  readonly timeout: number;

  constructor(operation: string, key: string | readonly string[] | undefined, timeout: number) {
    super(operation, key, undefined, `store ${operation}${about(key)} timed out after ${timeout} ms`, ErrorCodes.STORE_TIMEOUT);
    this.name = 'StoreTimeoutError';
    this.timeout = timeout;
  }
}

/**
 * The circuit breaker is open: the store failed or timed out repeatedly, and calls fail at once without
 * reaching it until a trial call after the cooldown succeeds. Nothing reached the store.
 */
export class StoreUnavailableError extends StoreError {
  constructor(operation: string, key: string | readonly string[] | undefined) {
    super(
      operation,
      key,
      undefined,
      `store ${operation}${about(key)} not attempted: the circuit breaker is open after repeated store failures`,
      ErrorCodes.STORE_UNAVAILABLE,
    );
    this.name = 'StoreUnavailableError';
  }
}

/** A loader passed `hardTimeout` (its signal was aborted) and no stale value could stand in. */
export class LoaderTimeoutError extends SyncedCacheError {
  /** The key being loaded. */
  readonly key: string;
  /** The limit that was passed, in milliseconds. */
  readonly timeout: number;

  constructor(key: string, timeout: number) {
    super(`the loader of key ${JSON.stringify(key)} did not settle within ${timeout} ms (hardTimeout)`, ErrorCodes.LOADER_TIMEOUT);
    this.name = 'LoaderTimeoutError';
    this.key = key;
    this.timeout = timeout;
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

/** A write that must not overwrite (`stash.set` without `force`) found the key already holding a value. Nothing was written. */
export class KeyExistsError extends SyncedCacheError {
  /** The key that exists. */
  readonly key: string;

  constructor(key: string) {
    super(`key ${quote(key)} already exists (pass force: true to overwrite it)`, ErrorCodes.KEY_EXISTS);
    this.name = 'KeyExistsError';
    this.key = key;
  }
}

/**
 * A value in the store could not be decrypted (option `encryption`): no configured key authenticates it
 * (a wrong key, a tampered value, a value copied from another key), it was never encrypted, or a custom
 * `decrypt` threw. The read rejects: never garbage, never a miss. Names the key, never the value or a key.
 */
export class DecryptionError extends SyncedCacheError {
  /** The key whose value could not be decrypted, as the store knows it (under Keyv 5 without the namespace's own `namespace:`). */
  readonly key: string;

  constructor(key: string, reason: string) {
    super(`cannot decrypt the value of key ${quote(key)}: ${reason}`, ErrorCodes.DECRYPT);
    this.name = 'DecryptionError';
    this.key = key;
  }
}
