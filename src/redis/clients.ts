// src/redis/ is the only folder that imports ioredis, types included (test/unit/layout.test.ts keeps it so).
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * What the bus accepts as its Redis: a URL (`redis://`, `rediss://`, `unix://`), ioredis options, or an
 * ioredis `Redis`/`Cluster` of yours (duplicated for subscribing; never closed by this library).
 */
export type RedisOption = string | RedisOptions | Redis | Cluster;

/** What {@link RedisTransport} accepts: the same as the `redis` option. */
export type RedisTransportTarget = RedisOption;

// Reconnect quickly: while the bus is down every process reads around its memory tier.
export const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1_000);

/**
 * disconnect() ends a socket and destroys it after `disconnectTimeout` (2 s by default) unless it closes
 * first; a socket that had already failed (ECONNREFUSED) never closes again, so the timer alone kept a
 * process alive for 2 s after close(). The bus needs no polite end: it disconnects only after its last
 * publish has settled.
 */
export const CLOSE_AT_ONCE: RedisOptions = { disconnectTimeout: 0 };

/** Options of the clients the transport creates itself (a URL or options given). */
export const OWN_CLIENT_DEFAULTS: RedisOptions = {
  // Commands must fail fast while disconnected: the bus keeps its own queue of unpublished keys,
  // and an ioredis offline queue would grow without bound during an outage.
  enableOfflineQueue: false,
  // We subscribe again ourselves on every 'ready', so that 'up' follows a confirmed SUBSCRIBE.
  autoResubscribe: false,
  maxRetriesPerRequest: 1,
  retryStrategy,
  connectionName: 'synced-cache',
  ...CLOSE_AT_ONCE,
};

// Our cluster subscriber reconnects through the transport alone, because after a failure the slot may
// have moved to another node and the connection must be made to wherever it lives now.
export const CLUSTER_SUBSCRIBER_OPTIONS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  autoResubscribe: false,
  maxRetriesPerRequest: 1,
  retryStrategy: () => null,
  readOnly: false,
  connectionName: 'synced-cache:sub',
  ...CLOSE_AT_ONCE,
};

export function isCluster(target: RedisOption): target is Cluster {
  return target instanceof Cluster || (target as { isCluster?: unknown }).isCluster === true;
}

export function isClient(target: RedisOption): target is Redis | Cluster {
  return target instanceof Redis || target instanceof Cluster || typeof (target as { duplicate?: unknown }).duplicate === 'function';
}
