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
  /** Read on the hot path: true while memory may be used. */
  trusted: boolean;
  readonly #down = new Set<string>();
  #closing = false;

  /** @param sources names of the sources that must be up first (none: trusted from the start). */
  constructor(sources: readonly string[]) {
    for (const source of sources) this.#down.add(source);
    this.trusted = this.#down.size === 0;
  }

  /** `source` is proven up: trusted again if every source is up. Memory must have been emptied first. */
  up(source: string): void {
    this.#down.delete(source);
    this.trusted = this.#down.size === 0 && !this.#closing;
  }

  /** `source` may be missing changes: stop trusting memory at once. */
  down(source: string): void {
    this.#down.add(source);
    this.trusted = false;
  }

  /** close() has begun: memory is never trusted again. */
  close(): void {
    this.#closing = true;
    this.trusted = false;
  }
}
