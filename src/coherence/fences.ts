/** Fence state of one key, kept only while an operation on that key is in flight. */
interface KeyFence {
  /** Operations in flight (reads and writes). */
  active: number;
  /** Writes in flight. */
  writers: number;
  /** Tick of the last invalidation of this key. */
  at: number;
  /** The store read other callers may join, and the tick it started at. */
  read: Promise<unknown> | undefined;
  readSince: number;
}

/**
 * Invalidation clocks that keep a store result from refilling memory after its key changed.
 *
 * One counter (`tick`) orders every invalidation; a key records the tick of its last invalidation,
 * but only while an operation on it is in flight, so the map stays as small as the set of keys
 * being read or written. A store read may fill memory only if neither its key nor everything was
 * invalidated since the read started. Writes fence at both ends: at the start, so reads that began
 * earlier cannot fill; at the end, so reads that began during the write (and may have read the store
 * before the write landed) cannot fill either.
 */
export class Fences {
  #tick = 0;
  #allAt = 0;
  readonly #keys = new Map<string, KeyFence>();

  /** The key changed (a remote invalidation, a local write). Cheap when nothing is in flight for it. */
  invalidate(key: string): void {
    const fence = this.#keys.get(key);
    if (fence !== undefined) fence.at = ++this.#tick;
  }

  /** Everything changed (clear, bus lost or regained, a sequence gap). */
  invalidateAll(): void {
    this.#allAt = ++this.#tick;
  }

  /** Registers a read of `key`; returns the tick to pass to {@link unchangedSince} and {@link leave}. */
  enter(key: string): number {
    let fence = this.#keys.get(key);
    if (fence === undefined) {
      fence = { active: 0, writers: 0, at: 0, read: undefined, readSince: 0 };
      this.#keys.set(key, fence);
    }
    fence.active++;
    return this.#tick;
  }

  /** Ends an operation registered with {@link enter} or {@link beginWrite}. */
  leave(key: string, read?: Promise<unknown>): void {
    const fence = this.#keys.get(key);
    if (fence === undefined) return;
    if (read !== undefined && fence.read === read) fence.read = undefined;
    if (--fence.active === 0) this.#keys.delete(key);
  }

  /** True when neither `key` nor everything was invalidated after tick `since`. */
  unchangedSince(key: string, since: number): boolean {
    if (this.#allAt > since) return false;
    const fence = this.#keys.get(key);
    return fence === undefined || fence.at <= since;
  }

  /** Publishes a store read of `key` (registered with `enter`, started at `since`) for others to join. */
  shareRead(key: string, read: Promise<unknown>, since: number): void {
    const fence = this.#keys.get(key);
    if (fence === undefined) return;
    fence.read = read;
    fence.readSince = since;
  }

  /** A store read of `key` that a caller starting now may join: one that no invalidation has overtaken. */
  joinableRead(key: string): Promise<unknown> | undefined {
    const fence = this.#keys.get(key);
    if (fence === undefined || fence.read === undefined) return undefined;
    return this.unchangedSince(key, fence.readSince) ? fence.read : undefined;
  }

  /** Starts a local write of `key`: fences out reads that began earlier. Returns the write's start tick. */
  beginWrite(key: string): number {
    this.enter(key);
    const fence = this.#keys.get(key) as KeyFence;
    fence.writers++;
    fence.at = ++this.#tick;
    return fence.at;
  }

  /**
   * Ends a local write begun at tick `start`: fences out reads that began during it. Returns true when
   * the written value may go to memory: no other write of the key overlapped, and nothing invalidated
   * the key or everything meanwhile. Otherwise the store's final value is unknown here, so memory
   * must stay without the key.
   */
  endWrite(key: string, start: number): boolean {
    const fence = this.#keys.get(key);
    if (fence === undefined) return false;
    const alone = fence.writers === 1 && fence.at === start && this.#allAt < start;
    fence.writers--;
    fence.at = ++this.#tick;
    if (--fence.active === 0) this.#keys.delete(key);
    return alone;
  }

  /** Keys with an operation in flight; for tests and diagnostics. */
  get tracked(): number {
    return this.#keys.size;
  }
}
