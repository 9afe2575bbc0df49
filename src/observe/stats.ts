import type { BusStatus } from '../bus/bus.js';
import type { BusState, SyncedCacheStats } from '../types.js';
import type { Counts } from './events.js';

/** What `stats()` reads of the bus, when there is one. */
export interface BusFigures {
  readonly status: BusStatus;
  readonly sent: number;
  readonly received: number;
  readonly ignored: number;
  readonly pendingKeys: number;
  readonly implausibleLags: number;
  readonly sendersTracked: number;
  readonly sendersEvicted: number;
  readonly sendersExpired: number;
  readonly reconnects: number;
  lag(): Omit<SyncedCacheStats['lag'], 'implausible'>;
}

/** What `stats()` reads of the circuit breaker, when there is one. */
export interface BreakerFigures {
  readonly state: 'closed' | 'open' | 'half-open';
  readonly opened: number;
}

/** The bus as `stats()` reports it: `'off'` without a bus or once it is closed. */
export function busState(bus: BusFigures | undefined): BusState {
  const status = bus?.status;
  if (status === undefined || status === 'closed') return 'off';
  return status === 'up' ? 'up' : 'down';
}

/** A snapshot of the counters, built on demand (stats() is off the hot path). */
export function snapshot(
  counts: Counts,
  bus: BusFigures | undefined,
  memorySize: number,
  breaker: BreakerFigures | undefined,
  events: { readonly published: number; readonly dropped: number } | undefined,
  /** The memory hits `get()`'s fast path counts in a field of the cache (see there). */
  fastHits = 0,
): SyncedCacheStats {
  return {
    hits: { memory: counts.memoryHits + fastHits, store: counts.storeHits },
    misses: counts.misses,
    sets: counts.sets,
    deletes: counts.deletes,
    invalidations: { sent: bus?.sent ?? 0, received: bus?.received ?? 0, ignored: bus?.ignored ?? 0 },
    lag: { ...(bus?.lag() ?? { count: 0, p50: 0, p99: 0, max: 0 }), implausible: bus?.implausibleLags ?? 0 },
    senders: { tracked: bus?.sendersTracked ?? 0, evicted: bus?.sendersEvicted ?? 0, expired: bus?.sendersExpired ?? 0 },
    busReconnects: bus?.reconnects ?? 0,
    flushes: { ...counts.flushes },
    bus: busState(bus),
    memorySize,
    pendingInvalidations: bus?.pendingKeys ?? 0,
    breaker: { state: breaker?.state ?? 'off', opened: breaker?.opened ?? 0 },
    stale: { ...counts.stale },
    refreshes: counts.refreshes,
    lock: { ...counts.lock },
    events: { published: events?.published ?? 0, dropped: events?.dropped ?? 0 },
  };
}
