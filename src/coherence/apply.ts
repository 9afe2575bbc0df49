import type { MemoryTier } from '../memory/memory-tier.js';
import type { FlushCause, Observer } from '../observe/events.js';
import type { Fences } from './fences.js';
import type { Trust } from './trust.js';

/**
 * The one door for changes made outside this process, and for the liveness of what reports them (the
 * bus today; store tracking later). Whatever arrives here only ever removes from memory: a changed key
 * is dropped and fenced, so a store read in flight cannot put the old value back; anything that may have
 * been missed (a gap in a sender's sequence, a source that was down) drops everything.
 */
export class OutsideChanges<V> {
  readonly #fences: Fences;
  readonly #memory: MemoryTier<V>;
  readonly #trust: Trust;
  readonly #observer: Observer;
  /** Sources that were up once: only then is coming up again a reconnect. */
  readonly #wasUp = new Set<string>();
  /** Who waits to hear that a key changed (a getOrSet waiting for another process's load). */
  readonly #watchers = new Map<string, Set<() => void>>();

  constructor(fences: Fences, memory: MemoryTier<V>, trust: Trust, observer: Observer) {
    this.#fences = fences;
    this.#memory = memory;
    this.#trust = trust;
    this.#observer = observer;
  }

  /** Another process changed `keys` (or everything). */
  changed(keys: readonly string[] | '*', origin: string): void {
    if (keys === '*') {
      this.#flush('clear');
    } else {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        this.#fences.invalidate(k);
        this.#memory.delete(k);
      }
      if (this.#watchers.size > 0) for (const k of keys) this.#wake(k);
    }
    this.#observer.invalidated(keys, origin);
  }

  /**
   * Resolves when `k` is changed by another process (or everything is dropped: anything may have
   * changed); `cancel()` stops waiting.
   */
  watch(k: string): { promise: Promise<void>; cancel(): void } {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => {
      wake = resolve;
    });
    let set = this.#watchers.get(k);
    if (set === undefined) {
      set = new Set();
      this.#watchers.set(k, set);
    }
    set.add(wake);
    const cancel = () => {
      const current = this.#watchers.get(k);
      current?.delete(wake);
      if (current?.size === 0) this.#watchers.delete(k);
    };
    return { promise, cancel };
  }

  #wake(k: string): void {
    const set = this.#watchers.get(k);
    if (set === undefined) return;
    this.#watchers.delete(k);
    for (const wake of set) wake();
  }

  /**
   * The bus's status changed: up (proven by a heartbeat's round trip) trusts memory again once emptied,
   * unless the cache is closing; down stops trusting it at once and says why.
   */
  busStatus(status: 'connecting' | 'up' | 'down' | 'closed', previous: string, reason: Error | undefined, closing: boolean): void {
    const observer = this.#observer;
    observer.bus(status, previous, reason);
    if (status === 'up') {
      this.up('bus');
      if (closing) this.#trust.close();
      observer.busUp();
    } else if (status === 'down') {
      this.down('bus');
      if (reason !== undefined) observer.error(reason);
      observer.busDown(reason);
    } else if (status === 'closed') {
      this.#trust.down('bus');
    }
  }

  /** Changes from `origin` were lost: memory can no longer be trusted as a whole. */
  lost(): void {
    this.#flush('gap');
  }

  /** `source` is (again) proven up. Anything may have been missed while it was not: start from empty. */
  up(source: string): void {
    if (this.#wasUp.has(source)) this.#flush('reconnect');
    else this.#dropAll();
    this.#wasUp.add(source);
    this.#trust.up(source);
  }

  /** `source` may be missing changes from now on. */
  down(source: string): void {
    this.#trust.down(source);
    this.#dropAll();
  }

  #flush(cause: FlushCause): void {
    this.#dropAll();
    this.#observer.flushed(cause);
  }

  #dropAll(): void {
    this.#fences.invalidateAll();
    this.#memory.clear();
    for (const k of [...this.#watchers.keys()]) this.#wake(k);
  }
}
