import type { KeyvStoreAdapter } from 'keyv';

/** One write of a batch, as a driver takes it. */
export interface DriverWrite {
  /** Canonical key. */
  k: string;
  /** The encoded record. */
  stored: unknown;
  /** Relative ttl in ms, or undefined for none. */
  ttl: number | undefined;
  /** The same as an absolute time (`Date.now()` clock), for adapters that take that. */
  expires: number | undefined;
}

/**
 * The adapter protocol of one Keyv generation: how a canonical key becomes the adapter's key, how a
 * ttl is passed, what the adapter answers. Every method rejects on failure (the tier maps errors);
 * nothing here decodes, judges expiry or deletes on its own.
 */
export interface StoreDriver {
  readonly generation: 5 | 6;
  /** True when the adapter can list its keys. */
  readonly canList: boolean;
  /** True when the adapter writes a batch in one call; else the tier writes key by key, all settled. */
  readonly batchWrites: boolean;
  /** True when the adapter deletes a batch in one call; else the tier deletes key by key, all settled. */
  readonly batchDeletes: boolean;
  get(k: string): Promise<unknown>;
  getMany(ks: readonly string[]): Promise<unknown[]>;
  /** Resolves false when the adapter says the write was not applied. */
  set(write: DriverWrite): Promise<boolean>;
  /** Per write: false when the adapter says it was not applied; with `undefined` entries when it does not say. */
  setMany(writes: readonly DriverWrite[]): Promise<readonly (boolean | undefined)[]>;
  /** Resolves to whether the key existed. */
  delete(k: string): Promise<boolean>;
  /** Resolves to whether every key existed. */
  deleteMany(ks: readonly string[]): Promise<boolean>;
  clear(): Promise<void>;
  /** `[canonical key, raw record]` for the namespace; only when `canList`. */
  iterate(): AsyncIterator<[string, unknown]>;
}

export type Adapter = KeyvStoreAdapter | Map<unknown, unknown>;

/** An 'error' listener on the adapter for the duration of `call`: some adapters report a failure only there. */
export async function withReportedErrors<T>(adapter: object, call: () => Promise<T>): Promise<T> {
  type Emitter = { on?: (event: 'error', f: (e: unknown) => void) => unknown; off?: (event: 'error', f: (e: unknown) => void) => unknown };
  const events = adapter as Emitter;
  if (typeof events.on !== 'function' || typeof events.off !== 'function') return call();
  let reported: { error: unknown } | undefined;
  const listener = (error: unknown) => {
    reported ??= { error };
  };
  events.on('error', listener);
  let result: T;
  try {
    result = await call();
  } finally {
    events.off('error', listener);
  }
  if (reported !== undefined) throw reported.error instanceof Error ? reported.error : new Error(String(reported.error));
  return result;
}
