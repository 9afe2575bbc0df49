/**
 * Whether memory may be read and filled.
 *
 * Invariant: memory is trusted only while every source of changes from outside is proven up (with no
 * source at all, always) and the cache is not closing. A source that is down may be dropping changes,
 * and an entry kept then could be one another process has since overwritten; so while untrusted, reads
 * go to the store and nothing is filled. Trust is regained only after the memory was emptied (the
 * source's `up` handler does that first), so nothing kept from before the outage is served after it.
 */
export class Trust {
  /** True while memory may be used. Set only through #set, so that every mirror sees each change. */
  trusted = false;
  readonly #down = new Set<string>();
  readonly #mirrors: ((trusted: boolean) => void)[] = [];
  readonly #waiting = new Set<{ resolve: () => void; reject: (error: Error) => void }>();
  #closing = false;

  /** @param sources names of the sources that must be up first (none: trusted from the start). */
  constructor(sources: readonly string[]) {
    for (const source of sources) this.#down.add(source);
    this.#set(this.#down.size === 0);
  }

  /**
   * Calls `mirror` with the current state and again on every change, synchronously: for the memory-hit
   * path, which reads its own copy of the flag (a field of the cache rather than one of this object).
   */
  mirror(mirror: (trusted: boolean) => void): void {
    this.#mirrors.push(mirror);
    mirror(this.trusted);
  }

  #set(trusted: boolean): void {
    this.trusted = trusted;
    for (const mirror of this.#mirrors) mirror(trusted);
  }

  /** `source` is proven up: trusted again if every source is up. Memory must have been emptied first. */
  up(source: string): void {
    this.#down.delete(source);
    this.#set(this.#down.size === 0 && !this.#closing);
    if (this.trusted) for (const waiter of this.#take()) waiter.resolve();
  }

  /** `source` may be missing changes: stop trusting memory at once. */
  down(source: string): void {
    this.#down.add(source);
    this.#set(false);
  }

  /** close() has begun: memory is never trusted again; whoever waits is told with `reason`. */
  close(reason?: Error): void {
    this.#closing = true;
    this.#set(false);
    if (reason !== undefined) for (const waiter of this.#take()) waiter.reject(reason);
  }

  /**
   * Resolves once memory is trusted (at once if it is), or with the reason when the cache closes first;
   * `cancel()` stops waiting (a timed-out wait leaves nothing behind).
   */
  whenTrusted(): { promise: Promise<void>; cancel(): void } {
    if (this.trusted) return { promise: Promise.resolve(), cancel() {} };
    let waiter!: { resolve: () => void; reject: (error: Error) => void };
    const promise = new Promise<void>((resolve, reject) => {
      waiter = { resolve, reject };
    });
    this.#waiting.add(waiter);
    return { promise, cancel: () => this.#waiting.delete(waiter) };
  }

  #take(): { resolve: () => void; reject: (error: Error) => void }[] {
    const all = [...this.#waiting];
    this.#waiting.clear();
    return all;
  }
}
