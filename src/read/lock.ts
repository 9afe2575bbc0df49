/**
 * A lock on a name, shared by every process of a namespace, that expires on its own: what `getOrSet`'s
 * lock step needs, and what a Redis (`SET NX PX` and a compare-and-delete) gives. The part reports; the
 * lock step decides.
 */
export interface KeyLock {
  /** Takes the lock on `name` for `ttl` ms; resolves to a token if taken, undefined if someone holds it. Rejects when the lock's server cannot be reached. */
  acquire(name: string, ttl: number): Promise<string | undefined>;
  /** Gives the lock up, if `token` still holds it (never someone else's after an expiry). */
  release(name: string, token: string): Promise<void>;
  /** Closes what the lock opened. */
  close(): Promise<void>;
}
