/** Keys on their way out: a batch is either everything (`all`) or the keys gathered for it. */
export interface Batch {
  readonly keys: string[];
  all: boolean;
  /** Resolves once the batch is done: published, or kept for the next time the bus is up. */
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  return { keys: [], all: false, done, resolve };
}

/** Keys, or everything, as a batch carries them. */
export function keysOf(batch: Batch): readonly string[] | '*' {
  return batch.all ? '*' : batch.keys;
}

/**
 * The invalidations not yet published: at most one batch in flight, one gathering behind it, and the keys
 * kept while the bus is down.
 *
 * Batching: while a batch is in flight, every key asked for joins the one batch behind it, so a write
 * storm becomes a few large messages with no added latency at low load. Keeping: keys that cannot be
 * published now are kept as a set, bounded by `maxPendingKeys`; past the bound the outbox keeps
 * "everything" instead (one message that makes every receiver drop its memory), which is always safe and
 * takes no room. No key is ever dropped: it is in flight, gathering, kept, or published. No I/O here:
 * the bus sends what {@link takeNext} hands it and reports back with {@link settle}.
 */
export class Outbox {
  readonly #maxPendingKeys: number;
  #inFlight: Batch | undefined;
  #next: Batch | undefined;
  readonly #pending = new Set<string>();
  #pendingAll = false;

  constructor(maxPendingKeys: number) {
    this.#maxPendingKeys = maxPendingKeys;
  }

  /** Adds `keys` to the batch that goes out next. Resolves when that batch is done. */
  add(keys: readonly string[] | '*'): Promise<void> {
    const batch = this.#next ?? newBatch();
    this.#next = batch;
    if (keys === '*') batch.all = true;
    else if (!batch.all) for (const key of keys) batch.keys.push(key);
    return batch.done;
  }

  /** The batch to send now, marked in flight: the gathering one, if nothing is in flight. */
  takeNext(): Batch | undefined {
    if (this.#inFlight !== undefined || this.#next === undefined) return undefined;
    this.#inFlight = this.#next;
    this.#next = undefined;
    return this.#inFlight;
  }

  /** The batch in flight is done (published, or its keys kept): its callers resolve. */
  settle(): void {
    const batch = this.#inFlight;
    this.#inFlight = undefined;
    batch?.resolve();
  }

  /** Moves the gathering batch to the kept keys (the bus is not up to send it) and resolves its callers. */
  keepNext(): void {
    const batch = this.#next;
    if (batch === undefined) return;
    this.#next = undefined;
    this.keep(keysOf(batch));
    batch.resolve();
  }

  /** Keeps `keys` for the next time the bus is up; past `maxPendingKeys`, keeps "everything" instead. */
  keep(keys: readonly string[] | '*'): void {
    if (this.#pendingAll) return;
    if (keys === '*' || this.#pending.size + keys.length > this.#maxPendingKeys) {
      this.#pendingAll = true;
      this.#pending.clear();
      return;
    }
    for (const key of keys) this.#pending.add(key);
  }

  /** Hands over the kept keys (or `'*'`), leaving none kept; `undefined` when none are. */
  takeKept(): readonly string[] | '*' | undefined {
    if (this.#pendingAll) {
      this.#pendingAll = false;
      return '*';
    }
    if (this.#pending.size === 0) return undefined;
    const keys = [...this.#pending];
    this.#pending.clear();
    return keys;
  }

  /** Keys kept for later (a kept "everything" counts as one). */
  get kept(): number {
    return this.#pendingAll ? 1 : this.#pending.size;
  }

  /** The batch in flight, for close() to wait on; `undefined` when nothing is. */
  get inFlight(): Promise<void> | undefined {
    return this.#inFlight?.done;
  }
}
