import type { Prepared } from '../store/record.js';
import type { StoreTier, StoreWrite } from '../store/store-tier.js';

/** What memory may keep for a key once its write has landed alone. */
export interface MemoryFill<V> {
  value: V;
  /** End of the fresh life (`Date.now()` clock), computed before the write as Keyv does, so memory never outlives the store copy. */
  expires: number | undefined;
  size: number;
  /** Milliseconds memory may keep it past that as a stale copy. */
  grace: number;
}

/**
 * When a write's entry stops being fresh and when it is gone, from its ttl and grace, computed before the
 * write (as Keyv does) so that no tier outlives the store's copy.
 */
export interface Timing {
  /** The ttl the adapter is given: the whole life, grace included. */
  ttl: number | undefined;
  /** The end of the whole life (`Date.now()` clock). */
  expires: number | undefined;
  /** The end of the fresh life, when there is a grace after it. */
  fresh: number | undefined;
  /** Milliseconds of grace (0 without a ttl: what never expires has no grace). */
  grace: number;
}

export function timing(ttl: number | undefined, grace: number, now = Date.now()): Timing {
  if (ttl === undefined) return { ttl: undefined, expires: undefined, fresh: undefined, grace: 0 };
  if (grace <= 0) return { ttl, expires: now + ttl, fresh: undefined, grace: 0 };
  return { ttl: ttl + grace, expires: now + ttl + grace, fresh: now + ttl, grace };
}

function fillOf<T>(prepared: Prepared<T>, t: Timing): MemoryFill<T> {
  return { value: prepared.value, expires: t.fresh ?? t.expires, size: prepared.size, grace: t.grace };
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
  /** From the store call's result, whether anything changed (a set-if-absent that found the key did not): if not, nothing is kept, announced or counted. */
  changed?(result: R): boolean;
}

export function setPlan<T>(store: StoreTier<T>, k: string, key: string, prepared: Prepared<T>, t: Timing): WritePlan<void, T> {
  return {
    operation: 'set',
    keys: [k],
    callerKeys: [key],
    store: () => store.set(k, prepared, t.ttl, t.expires),
    fills: [fillOf(prepared, t)],
  };
}

export interface BatchEntry<T> extends StoreWrite<T> {
  key: string;
  timing: Timing;
}

export function setManyPlan<T>(store: StoreTier<T>, entries: readonly BatchEntry<T>[]): WritePlan<void, T> {
  return {
    operation: 'set',
    keys: entries.map((e) => e.k),
    callerKeys: entries.map((e) => e.key),
    store: () => store.setMany(entries),
    fills: entries.map((e) => fillOf(e.prepared, e.timing)),
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

/** A write only if the key is absent, atomic in the store itself (Redis SET NX): resolves whether it wrote. */
export function addPlan<T>(store: StoreTier<T>, k: string, key: string, prepared: Prepared<T>, t: Timing): WritePlan<boolean, T> {
  return {
    operation: 'set',
    keys: [k],
    callerKeys: [key],
    store: () => store.setIfAbsent(k, prepared, t.ttl, t.expires),
    fills: [fillOf(prepared, t)],
    changed: (wrote) => wrote,
  };
}

/** A write only if the store still holds what was read (a compare-and-set): resolves whether it wrote. */
export function replacePlan<T>(
  store: StoreTier<T>,
  k: string,
  key: string,
  expected: unknown,
  prepared: Prepared<T>,
  t: Timing,
): WritePlan<boolean, T> {
  return {
    operation: 'set',
    keys: [k],
    callerKeys: [key],
    store: () => store.compareAndSet(k, expected, prepared, t.ttl, t.expires),
    fills: [fillOf(prepared, t)],
    changed: (wrote) => wrote,
  };
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
