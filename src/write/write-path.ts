import type { Fences } from '../coherence/fences.js';
import type { Trust } from '../coherence/trust.js';
import { CacheClosedError } from '../errors.js';
import type { MemoryTier } from '../memory/memory-tier.js';
import type { Observer, WriteReport } from '../observe/events.js';
import { lateSettlement, mayHaveReachedStore } from '../store/calls.js';
import type { WritePlan } from './plans.js';

/** Announces changed keys to the other processes. Resolves once published or queued; never rejects. */
export type Announce = (keys: readonly string[] | '*') => Promise<void>;

/**
 * The write protocol, once for every kind of write:
 * 1. fence the keys and drop them from memory, so no read that began earlier can refill them;
 * 2. the store call;
 * 3. fence again and drop again, so no read that began during the write can refill them either;
 * 4. refill memory with the written value, only if the write landed, alone (no overlapping write of the
 *    key, no invalidation meanwhile) and memory is trusted: otherwise the store's final value is unknown here;
 * 5. announce, also after a failure: a write that failed may have landed before the error (only a
 *    write the breaker refused never reached the store); a write that timed out goes on and may land
 *    later, so when it finally settles its keys are dropped here and announced again;
 * 6. observe: the write trace for every write, then the counters and events of the ones that succeeded.
 */
export class WritePath<V> {
  readonly #fences: Fences;
  readonly #memory: MemoryTier<V>;
  readonly #trust: Trust;
  readonly #observer: Observer;
  readonly #announce: Announce;
  #inFlight = 0;
  #idle: (() => void) | undefined;
  /** Set by close() once it stops waiting for writes: from then on no write reaches the store. */
  #sealed = false;

  constructor(fences: Fences, memory: MemoryTier<V>, trust: Trust, observer: Observer, announce: Announce) {
    this.#fences = fences;
    this.#memory = memory;
    this.#trust = trust;
    this.#observer = observer;
    this.#announce = announce;
  }

  /**
   * Runs a whole write operation (its checks included), counted so that `idle()` can wait for it: an
   * operation begun before close() finishes and announces itself.
   */
  async track<T>(operation: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await operation();
    } finally {
      if (--this.#inFlight === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }

  /** Resolves once no tracked write is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * close() has stopped waiting for writes in flight and closes the bus: a write whose store call has not
   * begun (an update whose updater answered late, say) could no longer be announced, and would reach a
   * store its owner may be closing. Such a write rejects with CacheClosedError, touching nothing.
   */
  seal(): void {
    this.#sealed = true;
  }

  async run<R>(plan: WritePlan<R, V>): Promise<R | undefined> {
    if (this.#sealed) throw new CacheClosedError(plan.operation);
    if (plan.condition !== undefined && !plan.condition()) return undefined;
    const { keys } = plan;
    const fences = this.#fences;
    const memory = this.#memory;
    let starts: number[] | undefined;
    if (keys === '*') {
      fences.invalidateAll();
      memory.clear();
    } else {
      starts = new Array<number>(keys.length);
      for (let i = 0; i < keys.length; i++) {
        starts[i] = fences.beginWrite(keys[i] as string);
        memory.delete(keys[i] as string);
      }
    }
    const began = this.#observer.writeBegins();
    let result: R | undefined;
    let failed = false;
    let failure: unknown;
    try {
      result = await plan.store();
    } catch (error) {
      failed = true;
      failure = error;
    }
    // A store call that changed nothing (a set-if-absent that found the key) keeps, announces and counts nothing.
    const changed = failed || plan.changed === undefined || plan.changed(result as R);
    if (keys === '*') {
      fences.invalidateAll();
      memory.clear();
    } else {
      this.#settle(plan, keys, starts as number[], !failed && changed);
    }
    if (changed && (!failed || mayHaveReachedStore(failure))) await this.#announce(keys);
    if (failed) this.#announceWhenSettled(keys, lateSettlement(failure));
    const report: WriteReport = {
      operation: plan.operation,
      keys,
      callerKeys: plan.callerKeys,
      began,
      ...(failed ? { error: failure } : {}),
    };
    this.#observer.traceWrite(report);
    if (failed) throw failure;
    if (changed) this.#observer.written(report);
    return result;
  }

  /**
   * A write that timed out may land when its call finally settles, after the announcement: readers that
   * refilled their memory from the old value meanwhile must be told again, and so must this process.
   */
  #announceWhenSettled(keys: readonly string[] | '*', settled: Promise<unknown> | undefined): void {
    if (settled === undefined) return;
    void settled.then(() => {
      if (keys === '*') {
        this.#fences.invalidateAll();
        this.#memory.clear();
      } else {
        for (const k of keys) {
          this.#fences.invalidate(k);
          this.#memory.delete(k);
        }
      }
      return this.#announce(keys);
    });
  }

  /** Steps 3 and 4 for keyed writes. */
  #settle(plan: WritePlan<unknown, V>, keys: readonly string[], starts: readonly number[], landed: boolean): void {
    const fences = this.#fences;
    const memory = this.#memory;
    const alone = new Array<boolean>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      alone[i] = fences.endWrite(keys[i] as string, starts[i] as number);
      memory.delete(keys[i] as string);
    }
    const fills = plan.fills;
    if (!landed || fills === undefined || !this.#trust.trusted) return;
    // A key given twice in one batch: which write the store kept is the adapter's business, so neither.
    const seen = keys.length > 1 ? new Set<string>() : undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      if (seen?.has(k)) {
        memory.delete(k);
        continue;
      }
      seen?.add(k);
      const fill = fills[i];
      if (alone[i] !== true || fill === undefined) continue;
      memory.set(k, fill.value, fill.expires === undefined ? undefined : fill.expires - Date.now(), fill.size, fill.grace);
    }
  }
}
