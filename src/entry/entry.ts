/**
 * One cached value and what the cache knows about it. The store keeps it inside Keyv's own record
 * (`store/record.ts`), so plain Keyv readers still find `value` and `expires` where they expect them;
 * later fields (a logical expiry for grace, a version, tags) ride beside them.
 */
export interface Entry<V> {
  value: V;
  /** When the entry is gone, on the `Date.now()` clock (its grace included); `undefined`: never. */
  expires: number | undefined;
  /**
   * When an entry kept with grace stops being fresh (its ttl), on the `Date.now()` clock; between this
   * and `expires` it is stale: served only when fresh data cannot be had. Absent without grace.
   */
  fresh?: number;
}

/** True when `entry` is past its fresh life (but not gone) at `now`. */
export function isStale(entry: Entry<unknown>, now: number): boolean {
  return entry.fresh !== undefined && entry.fresh <= now;
}

/** Milliseconds `entry` has left at `now` (`Date.now()` clock); `undefined` when it never expires. */
export function remaining(expires: number | undefined, now = Date.now()): number | undefined {
  return expires === undefined ? undefined : expires - now;
}
