// An optional integration: only this subpath loads prom-client, so the core never requires it.
import { Counter, register as defaultRegistry, Gauge, type Registry } from 'prom-client';
import type { BusState, StaleReason, SyncedCacheStats } from 'synced-cache';

/** What the collector reads: a `SyncedCache` (anything with a namespace and `stats()`). */
export interface MetricsSource {
  readonly namespace: string;
  stats(): SyncedCacheStats;
}

/** Options of {@link registerMetrics}. */
export interface MetricsOptions {
  /**
   * The prom-client registry to register the metrics on.
   * @default prom-client's global `register`
   */
  registry?: Registry;
  /**
   * Prepended to every metric name.
   * @default 'synced_cache_'
   */
  prefix?: string;
}

/** What {@link registerMetrics} returns: a way to stop reporting one cache. */
export interface MetricsHandle {
  /**
   * Stops reporting this cache. When it was the last cache on the registry (with this prefix),
   * the metrics are removed from the registry.
   */
  unregister(): void;
}

const BUS_STATES: readonly BusState[] = ['up', 'down', 'off'];
const BREAKER_STATES: readonly SyncedCacheStats['breaker']['state'][] = ['closed', 'open', 'half-open', 'off'];
const STALE_REASONS: readonly StaleReason[] = ['store-error', 'store-timeout', 'store-unavailable', 'loader-error', 'loader-timeout'];
const QUANTILES = [
  ['0.5', 'p50'],
  ['0.99', 'p99'],
] as const;

/** The metrics of one registry and prefix, shared by every cache registered on them. */
class Collector {
  readonly sources = new Map<string, MetricsSource>();
  readonly #registry: Registry;
  readonly #names: string[] = [];

  constructor(registry: Registry, prefix: string) {
    this.#registry = registry;
    // Every metric reads stats() at scrape time; one snapshot per cache per scrape would need a scrape
    // hook prom-client does not have, and stats() is a handful of field reads, so each reads its own.
    const counter = (name: string, help: string, read: (s: SyncedCacheStats) => number) =>
      this.#counter(prefix + name, help, [], (s, set) => set({}, read(s)));
    const gauge = (name: string, help: string, read: (s: SyncedCacheStats) => number) =>
      this.#gauge(prefix + name, help, [], (s, set) => set({}, read(s)));

    this.#counter(
      `${prefix}hits_total`,
      'Reads served from the cache, by tier (memory: this process; store: the shared store).',
      ['tier'],
      (s, set) => {
        set({ tier: 'memory' }, s.hits.memory);
        set({ tier: 'store' }, s.hits.store);
      },
    );
    counter('misses_total', 'Reads that found the key in neither tier.', (s) => s.misses);
    counter('sets_total', 'Keys written.', (s) => s.sets);
    counter('deletes_total', 'Keys deleted.', (s) => s.deletes);
    counter(
      'invalidations_sent_total',
      'Keys announced to other processes on the bus (an "everything" counts as one).',
      (s) => s.invalidations.sent,
    );
    counter(
      'invalidations_received_total',
      'Keys invalidated by messages from other processes (an "everything" counts as one).',
      (s) => s.invalidations.received,
    );
    counter('bus_messages_ignored_total', 'Bus messages ignored as malformed, foreign or oversized.', (s) => s.invalidations.ignored);
    this.#counter(
      `${prefix}flushes_total`,
      'Times the whole memory tier was dropped, by cause (reconnect, gap, clear).',
      ['cause'],
      (s, set) => {
        set({ cause: 'reconnect' }, s.flushes.reconnect);
        set({ cause: 'gap' }, s.flushes.gap);
        set({ cause: 'clear' }, s.flushes.clear);
      },
    );
    // A gauge with a quantile label, not a Summary: the quantiles come ready-made from stats() and a
    // prom-client Summary can only compute its own from observations.
    this.#gauge(
      `${prefix}propagation_lag_seconds`,
      'Propagation lag of received invalidations (sender clock at sending to applied here), over the last 1,024 messages.',
      ['quantile'],
      (s, set) => {
        for (const [quantile, field] of QUANTILES) set({ quantile }, s.lag[field] / 1000);
      },
    );
    gauge(
      'propagation_lag_max_seconds',
      'Largest propagation lag of a received invalidation since the cache was created.',
      (s) => s.lag.max / 1000,
    );
    counter('propagation_lag_samples_total', 'Received invalidation messages whose lag was measured.', (s) => s.lag.count);
    counter(
      'propagation_lag_implausible_total',
      'Received invalidations left out of the lag figures: a negative lag, or one over a minute (a wrong clock, a forged timestamp).',
      (s) => s.lag.implausible,
    );
    gauge(
      'senders_tracked',
      'Other instances whose message sequence numbers are tracked to notice lost messages.',
      (s) => s.senders.tracked,
    );
    this.#counter(
      `${prefix}senders_forgotten_total`,
      'Tracked senders forgotten, by cause (expired: silent for 30 to 60 heartbeat intervals; evicted: past 10,000 tracked, possibly alive).',
      ['cause'],
      (s, set) => {
        set({ cause: 'expired' }, s.senders.expired);
        set({ cause: 'evicted' }, s.senders.evicted);
      },
    );
    counter(
      'bus_reconnects_total',
      'Times the bus dropped and reopened its connections because a heartbeat was not answered.',
      (s) => s.busReconnects,
    );
    this.#counter(
      `${prefix}events_streamed_total`,
      'Events of the event stream (events: { bus: true }), by outcome (published on the events channel, or dropped: the bus down or a publish failed).',
      ['outcome'],
      (s, set) => {
        set({ outcome: 'published' }, s.events.published);
        set({ outcome: 'dropped' }, s.events.dropped);
      },
    );
    this.#gauge(`${prefix}bus_state`, 'The invalidation bus: 1 for the current state, 0 for the others.', ['state'], (s, set) => {
      for (const state of BUS_STATES) set({ state }, s.bus === state ? 1 : 0);
    });
    gauge('memory_entries', 'Entries in the in-process memory tier.', (s) => s.memorySize);
    gauge('pending_invalidations', 'Keys waiting to be published when the bus comes back.', (s) => s.pendingInvalidations);
    this.#gauge(
      `${prefix}breaker_state`,
      "The store's circuit breaker: 1 for the current state, 0 for the others (off: circuitBreaker: false).",
      ['state'],
      (s, set) => {
        for (const state of BREAKER_STATES) set({ state }, s.breaker.state === state ? 1 : 0);
      },
    );
    counter('breaker_opened_total', "Times the store's circuit breaker opened.", (s) => s.breaker.opened);
    this.#counter(
      `${prefix}stale_served_total`,
      'Stale values (past their ttl, within grace) served because fresh data could not be had, by what failed.',
      ['reason'],
      (s, set) => {
        for (const reason of STALE_REASONS) set({ reason }, s.stale[reason]);
      },
    );
    counter('refreshes_total', 'Background refreshes started by refreshAhead.', (s) => s.refreshes);
    // Three counters rather than one with an outcome label: a caller that waited and then took the load
    // over may count in both, so a sum over such a label would mean nothing.
    counter('lock_acquired_total', 'getOrSet loads run holding the lock across processes.', (s) => s.lock.acquired);
    counter('lock_waited_total', "getOrSet callers that waited for another process's load instead of loading.", (s) => s.lock.waited);
    counter('lock_took_over_total', 'getOrSet loads taken over after a wait for the lock ran out.', (s) => s.lock.tookOver);
  }

  #counter(name: string, help: string, labels: string[], fill: Fill): void {
    const sources = this.sources;
    new Counter({
      name,
      help,
      labelNames: ['namespace', ...labels],
      registers: [this.#registry],
      collect() {
        // Counters are monotonic in stats(); reset-then-inc is how prom-client takes an absolute value.
        this.reset();
        for (const source of sources.values()) {
          fill(source.stats(), (l, v) => this.inc({ namespace: source.namespace, ...l }, v));
        }
      },
    });
    this.#names.push(name);
  }

  #gauge(name: string, help: string, labels: string[], fill: Fill): void {
    const sources = this.sources;
    new Gauge({
      name,
      help,
      labelNames: ['namespace', ...labels],
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const source of sources.values()) {
          fill(source.stats(), (l, v) => this.set({ namespace: source.namespace, ...l }, v));
        }
      },
    });
    this.#names.push(name);
  }

  remove(): void {
    for (const name of this.#names) this.#registry.removeSingleMetric(name);
  }
}

type Fill = (stats: SyncedCacheStats, set: (labels: Record<string, string>, value: number) => void) => void;

// One collector per registry and prefix, so that several caches share metric names, told apart by namespace.
const collectors = new WeakMap<Registry, Map<string, Collector>>();

/**
 * Exposes a cache's `stats()` as Prometheus metrics on a prom-client registry, read at scrape time
 * (nothing is counted twice and the hot path is untouched).
 *
 * Every metric has a `namespace` label, so several caches can be registered on one registry; two caches
 * with the same namespace cannot (their series would collide), and the second call throws.
 * Durations are exposed in seconds, as Prometheus expects.
 *
 * @example
 * import { Registry } from 'prom-client';
 * import { registerMetrics } from 'synced-cache/prometheus';
 * const registry = new Registry();
 * registerMetrics(cache, { registry });
 * // GET /metrics: res.end(await registry.metrics())
 */
export function registerMetrics(cache: MetricsSource, options: MetricsOptions = {}): MetricsHandle {
  if (typeof cache !== 'object' || cache === null || typeof cache.stats !== 'function' || typeof cache.namespace !== 'string') {
    throw new TypeError('synced-cache/prometheus: registerMetrics: cache must be a SyncedCache (with namespace and stats())');
  }
  const registry = options.registry ?? defaultRegistry;
  const prefix = options.prefix ?? 'synced_cache_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix)) {
    throw new TypeError(
      `synced-cache/prometheus: registerMetrics: option "prefix" must be a valid Prometheus metric name prefix, got ${JSON.stringify(prefix)}`,
    );
  }
  let byPrefix = collectors.get(registry);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    collectors.set(registry, byPrefix);
  }
  let collector = byPrefix.get(prefix);
  if (collector === undefined) {
    collector = new Collector(registry, prefix);
    byPrefix.set(prefix, collector);
  }
  if (collector.sources.has(cache.namespace)) {
    throw new Error(
      `synced-cache/prometheus: registerMetrics: a cache with namespace ${JSON.stringify(cache.namespace)} is already registered on this registry with prefix ${JSON.stringify(prefix)}; use another registry or prefix`,
    );
  }
  collector.sources.set(cache.namespace, cache);
  const owner = collector;
  const map = byPrefix;
  let done = false;
  return {
    unregister() {
      if (done) return;
      done = true;
      owner.sources.delete(cache.namespace);
      if (owner.sources.size === 0) {
        owner.remove();
        map.delete(prefix);
      }
    },
  };
}
