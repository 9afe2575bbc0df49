/** Which tier served a hit. */
export type Tier = 'memory' | 'store';

/**
 * What every event's payload carries (every event but `'error'`, which is an `Error`): when it happened
 * and which cache it happened in, so that lines from many processes can be merged and told apart.
 */
export interface EventStamp {
  /** When the event was emitted, in ms since the epoch (`Date.now()`). */
  at: number;
  /** The emitting cache's instance id ({@link SyncedCache.instanceId}), also its sender id on the bus. */
  instance: string;
}

/** Payload of the 'hit' event. */
export interface HitEvent extends EventStamp {
  key: string;
  tier: Tier;
}

/** Payload of the 'miss', 'set', 'delete' and 'expire' events. */
export interface KeyEvent extends EventStamp {
  key: string;
}

/** Payload of the 'clear' and 'bus:up' events: the stamp alone. */
export type StampEvent = EventStamp;

/** Payload of the 'invalidate' event: a message from another instance was applied. */
export interface InvalidateEvent extends EventStamp {
  /** The keys dropped from memory, or `'*'` for everything. */
  keys: readonly string[] | '*';
  /** Instance id of the sender. */
  origin: string;
}

/** Payload of the 'bus:down' event. */
export interface BusDownEvent extends EventStamp {
  /** Why the bus is considered down. */
  reason: Error | undefined;
}

/** Payload of the 'push' and 'pop' events, emitted by a stash's cache (`synced-cache/stash`). */
export interface StashEvent {
  /** The id of the entry pushed or popped. */
  key: string;
  /** When it happened: `Date.now()`. */
  at: number;
  /** The emitting cache's `instanceId` (`undefined` without a bus). */
  instance: string | undefined;
}

/** Events of {@link SyncedCache}, as `EventEmitter` argument tuples. */
export interface SyncedCacheEvents {
  hit: [HitEvent];
  miss: [KeyEvent];
  set: [KeyEvent];
  delete: [KeyEvent];
  /** An entry found past its end of life on access (in memory, or handed back by a store that keeps expired records). */
  expire: [KeyEvent];
  clear: [StampEvent];
  invalidate: [InvalidateEvent];
  error: [Error];
  'bus:up': [StampEvent];
  'bus:down': [BusDownEvent];
  breaker: [BreakerEvent];
  stale: [StaleEvent];
  /** A stash pushed an entry (emitted by `stash.cache` only). */
  push: [StashEvent];
  /** A stash popped an entry (emitted by `stash.cache` only). */
  pop: [StashEvent];
}

/** The bus as `stats()` reports it: `'off'` when the cache runs without a bus (or is closed). */
export type BusState = 'up' | 'down' | 'off';

/** Counters since the cache was created. */
export interface SyncedCacheStats {
  hits: { memory: number; store: number };
  misses: number;
  sets: number;
  deletes: number;
  /**
   * Keys sent to and received from other instances (an "everything" counts as one),
   * and bus messages ignored as malformed, foreign or oversized.
   */
  invalidations: { sent: number; received: number; ignored: number };
  /**
   * Propagation lag of invalidations received from other instances, in milliseconds: from the sender's
   * `Date.now()` at sending to applied here (so it includes clock skew between hosts).
   */
  lag: {
    count: number;
    p50: number;
    p99: number;
    max: number;
    /** Received invalidations left out of the figures above as implausible: a negative lag, or over a minute (a wrong clock, a forged timestamp). */
    implausible: number;
  };
  /**
   * Other instances whose message sequence numbers are tracked (a gap in one drops memory), and those
   * forgotten: evicted past 10,000 tracked, or expired after 30 heartbeat intervals of silence.
   */
  senders: { tracked: number; evicted: number; expired: number };
  /** Times the bus dropped and reopened its connections because a heartbeat was not answered. */
  busReconnects: number;
  /** Times the whole memory tier was dropped, by cause. */
  flushes: { reconnect: number; gap: number; clear: number };
  bus: BusState;
  /** Entries in the memory tier now. */
  memorySize: number;
  /** Keys waiting to be published when the bus comes back. */
  pendingInvalidations: number;
  /** The store's circuit breaker (`'off'` when `circuitBreaker: false`), and how many times it opened. */
  breaker: { state: BreakerState | 'off'; opened: number };
  /** Stale values served (past their ttl, within grace), by what failed. */
  stale: Record<StaleReason, number>;
  /** Background refreshes started by `refreshAhead`. */
  refreshes: number;
  /** The getOrSet lock across processes: loads run holding it, callers that waited for another process's load, and loads taken over after a wait ran out. */
  lock: { acquired: number; waited: number; tookOver: number };
  /**
   * The event stream (`events: { bus: true }`): events sent on the events channel, and events dropped
   * (the channel down or slow, its queue full, or an event too large for one message). Best effort.
   */
  events: { published: number; dropped: number };
}

/** Where the store's circuit breaker stands. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Payload of the 'breaker' event. */
export interface BreakerEvent extends EventStamp {
  state: BreakerState;
}

/** Per-call options of `set`, `setMany` entries and `getOrSet`. Durations in milliseconds. */
export interface SetOptions {
  /** Time-to-live for both tiers; `0`: no expiry. Defaults to the cache's `ttl`. */
  ttl?: number;
  /** Kept this long past the ttl, served only when fresh data cannot be had. Defaults to the cache's `grace`. */
  grace?: number;
}

/** Per-call options of `getOrSet`; each defaults to the cache's option of the same name. */
export interface GetOrSetOptions extends SetOptions {
  /** After this, answer with a stale value (if any) and let the loader finish in the background. */
  softTimeout?: number;
  /** After this, abort the loader's signal and reject with `LoaderTimeoutError` (or answer with a stale value). */
  hardTimeout?: number;
  /** Refresh in the background a hit older than this fraction of its ttl. */
  refreshAhead?: number;
  /** One loader call across processes: `true`, `false`, or `{ ttl, wait }`. */
  lock?: boolean | { ttl?: number; wait?: number };
}

/** What a `getOrSet` loader is given besides the key. */
export interface LoaderContext<V> {
  /** Aborted at `hardTimeout`, and when the cache closes: pass it to `fetch` and the like. */
  signal: AbortSignal;
  /** The stale value within grace, if there is one (to revalidate against, or to return as is). */
  stale: V | undefined;
}

/** One entry of `setMany`. */
export interface SetManyEntry<V> {
  key: string;
  value: V;
  /** As {@link SetOptions.ttl}. */
  ttl?: number;
  /** As {@link SetOptions.grace}. */
  grace?: number;
}

/** Why a stale value was served: what failed. */
export type StaleReason = 'store-error' | 'store-timeout' | 'store-unavailable' | 'loader-error' | 'loader-timeout';

/** Payload of the 'stale' event: a value past its ttl (within grace) was served because fresh data could not be had. */
export interface StaleEvent extends EventStamp {
  key: string;
  reason: StaleReason;
}
