import type { Prepared } from '../store/record.js';
import type { StoreTier, StoreWrite } from '../store/store-tier.js';

/** What memory may keep for a key once its write has landed alone. */
export interface MemoryFill<V> {
  value: V;
  /** Absolute expiry (`Date.now()` clock), computed before the write as Keyv does, so memory never outlives the store copy. */
  expires: number | undefined;
  size: number;
}

/**
 * One kind of write, as the write path runs it: which keys it changes, the store call, what memory may
 * keep afterwards, and an optional condition. Plans hold no protocol: fencing, dropping, announcing and
 * observing are the write path's, the same for every plan.
 */
export interface WritePlan<R, V = unknown> {
  /** For the write trace and the counters. */
  readonly operation: 'set' | 'delete' | 'clear';
  /** Canonical keys changed (a key may appear twice in a batch), or '*' for everything. */
  readonly keys: readonly string[] | '*';
  /** The keys as the caller gave them, for events. */
  readonly callerKeys: readonly string[];
  /** The store call. */
  store(): Promise<R>;
  /** For `keys[i]`: what memory may keep once the write landed alone. */
  readonly fills?: readonly MemoryFill<V>[];
  /**
   * Checked synchronously before anything is touched: when false, nothing is written, announced or
   * counted, and the write resolves to `undefined`.
   */
  condition?(): boolean;
}

export function setPlan<T>(
  store: StoreTier<T>,
  k: string,
  key: string,
  prepared: Prepared<T>,
  ttl: number | undefined,
  expires: number | undefined,
): WritePlan<void, T> {
  return {
    operation: 'set',
    keys: [k],
    callerKeys: [key],
    store: () => store.set(k, prepared, ttl, expires),
    fills: [{ value: prepared.value, expires, size: prepared.size }],
  };
}

export interface BatchEntry<T> extends StoreWrite<T> {
  key: string;
}

export function setManyPlan<T>(store: StoreTier<T>, entries: readonly BatchEntry<T>[]): WritePlan<void, T> {
  return {
    operation: 'set',
    keys: entries.map((e) => e.k),
    callerKeys: entries.map((e) => e.key),
    store: () => store.setMany(entries),
    fills: entries.map((e) => ({ value: e.prepared.value, expires: e.expires, size: e.prepared.size })),
  };
}

/**
 * A loader's result: a set that happens only if the key did not change since the load began (a delete
 * or a set of the key, here or, through the invalidations received, in another process), so that a
 * change made during the load wins over a value read before it.
 */
export function loadedPlan<T>(plan: WritePlan<void, T>, unchanged: () => boolean): WritePlan<void, T> {
  return { ...plan, condition: unchanged };
}

export function deletePlan<T>(store: StoreTier<T>, k: string, key: string): WritePlan<boolean, T> {
  return { operation: 'delete', keys: [k], callerKeys: [key], store: () => store.delete(k) };
}

export function deleteManyPlan<T>(store: StoreTier<T>, ks: readonly string[], keys: readonly string[]): WritePlan<boolean, T> {
  return { operation: 'delete', keys: ks, callerKeys: keys, store: () => store.deleteMany(ks) };
}

export function clearPlan<T>(store: StoreTier<T>): WritePlan<void, T> {
  return { operation: 'clear', keys: '*', callerKeys: [], store: () => store.clear() };
}
