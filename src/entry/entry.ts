/**
 * One cached value and what the cache knows about it. The store keeps it inside Keyv's own record
 * (`store/record.ts`), so plain Keyv readers still find `value` and `expires` where they expect them;
 * later fields (a logical expiry for grace, a version, tags) ride beside them.
 */
export interface Entry<V> {
  value: V;
  /** When the entry expires, on the `Date.now()` clock; `undefined`: never. */
  expires: number | undefined;
}

/** Milliseconds `entry` has left at `now` (`Date.now()` clock); `undefined` when it never expires. */
export function remaining(expires: number | undefined, now = Date.now()): number | undefined {
  return expires === undefined ? undefined : expires - now;
}
